"""The page cache (docs/operations.md, "Page cache") measured against the uncached page,
side by side in one run (``python -m bench cache``):

* pages: per query class of :func:`bench.workload.choose_classes`, the first page's
  server time (planning + execution of ``EXPLAIN (ANALYZE, TIMING OFF)``, each call its
  own transaction) uncached (a read-only transaction, which bypasses the cache), as a
  miss that stores the page (the cache cleared before) and as a hit, in turns: uncached,
  miss, hit, uncached, ...;
* writes: an item with 75 tags inserted (:func:`bench.run.measure_insert`) with the
  cache's write triggers enabled and disabled, in blocks of five, in turns;
* concurrent writers: ``writers`` sessions each inserting items with tags drawn among the
  most popular ones (so that they all bump the same tags' versions), for ``seconds`` with
  the cache's triggers and as long without, in alternating slices: commits per second;
* a skewed mix: readers ask for first pages (and, one call in five, the second page) of
  filters whose popularity follows a zipf law (the i-th most popular filter asked with
  weight 1 / i), while a writer adds and deletes items with popular tags; with the cache
  and without, in alternating slices: client time per call (median, p95) and hit rate.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.baselines import Query
from bench.run import (
    _quantile,
    _server_ms,
    data_info,
    gallery_page_query,
    machine_info,
    prepare_gallery_page,
)
from bench.run import measure_insert as measure_insert_ms
from bench.workload import PAGE_SIZE, QueryClass, choose_classes

RUNS = 15
INSERT_RUNS = 30
WRITE_BLOCK = 5
WRITERS = 8
WRITER_TAGS = 10  # tags per inserted item, among the POPULAR most frequent
POPULAR = 20
MIX_FILTERS = 300  # the mix's filters: single tags and pairs of frequent tags
MIX_READERS = 3
SLICE_SECONDS = 10.0
# the cache's write triggers (migration 0014)
TRIGGERS = {
    "content_tags": (
        "content_tags_touch_cache_insert",
        "content_tags_touch_cache_delete",
        "content_tags_touch_cache_update_new",
        "content_tags_touch_cache_update_old",
    ),
    "content_items_all": (
        "content_items_all_touch_cache_insert_delete",
        "content_items_all_touch_cache_update",
    ),
}


@dataclass
class PageClass:
    label: str
    uncached_ms: list[float] = field(default_factory=list)
    miss_ms: list[float] = field(default_factory=list)
    hit_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float]:
            return {"median_ms": _quantile(values, 0.5), "p95_ms": _quantile(values, 0.95)}

        uncached, miss, hit = stats(self.uncached_ms), stats(self.miss_ms), stats(self.hit_ms)
        return {
            "label": self.label,
            "uncached": uncached,
            "miss": miss,
            "hit": hit,
            "speedup": uncached["median_ms"] / hit["median_ms"],
            "miss_overhead": miss["median_ms"] / uncached["median_ms"] - 1,
        }


@contextmanager
def _cache(conn: psycopg.Connection, enabled: bool) -> Iterator[None]:
    conn.execute("UPDATE gallery_config SET cache_enabled = %s", (enabled,))
    try:
        yield
    finally:
        conn.execute("UPDATE gallery_config SET cache_enabled = false")


@contextmanager
def _write_triggers(conn: psycopg.Connection, enabled: bool) -> Iterator[None]:
    """The cache's write triggers enabled or disabled (restored to enabled after)."""

    def switch(on: bool) -> None:
        for table, names in TRIGGERS.items():
            for name in names:
                conn.execute(
                    sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                        sql.Identifier(table),
                        sql.SQL("ENABLE" if on else "DISABLE"),
                        sql.Identifier(name),
                    )
                )

    switch(enabled)
    try:
        yield
    finally:
        switch(True)


def _uncached_ms(conn: psycopg.Connection, query: Query) -> float:
    """The page as without the cache: a read-only transaction bypasses it (as a cache
    turned off does, once the session has seen it off)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        return _server_ms(conn, query) or math.inf


def measure_pages(conn: psycopg.Connection, classes: list[QueryClass], runs: int) -> list[dict]:
    """With the cache on throughout: uncached, then a miss (the page's entry dropped
    first: every entry, which the cache's few hundred rows make cheap), then a hit."""
    results = []
    with _cache(conn, True):
        for qc in classes:
            query = gallery_page_query(qc, None, None)
            measured = PageClass(qc.label)
            for _ in range(runs):
                measured.uncached_ms.append(_uncached_ms(conn, query))
                conn.execute("SELECT gallery.gallery_cache_clear()")
                measured.miss_ms.append(_server_ms(conn, query) or math.inf)
                measured.hit_ms.append(_server_ms(conn, query) or math.inf)
            results.append(measured.summary())
    return results


def measure_writes(conn: psycopg.Connection, viewer: int, runs: int) -> dict[str, Any]:
    """In rounds of WRITE_BLOCK inserts with the triggers, then as many without, each block
    after one insert not counted (switching a trigger makes PostgreSQL plan the writes
    again)."""
    on: list[float] = []
    off: list[float] = []
    for _ in range(max(1, runs // WRITE_BLOCK)):
        for enabled, into in ((True, on), (False, off)):
            with _write_triggers(conn, enabled):
                measure_insert_ms(conn, viewer, runs=1)
                for _ in range(WRITE_BLOCK):
                    into.append(float(measure_insert_ms(conn, viewer, runs=1)["server_median_ms"]))
    return {
        "tags": 75,
        "with_triggers_median_ms": _quantile(on, 0.5),
        "without_triggers_median_ms": _quantile(off, 0.5),
        "overhead": _quantile(on, 0.5) / _quantile(off, 0.5) - 1,
    }


def _popular_tags(conn: psycopg.Connection, n: int) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT tag_id FROM tag_cardinality_stats GROUP BY tag_id"
            " ORDER BY sum(cardinality) DESC LIMIT %s",
            (n,),
        )
    ]


INSERT_ITEM = """
WITH item AS (
    INSERT INTO content_items_all (title, content_type, creator_id, source_type, created_at)
    VALUES ('bench cache writer', 'image', %(viewer)s, 'items', now())
    RETURNING id)
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT item.id, 'items', t FROM item, unnest(%(tags)s::uuid[]) AS t
"""
DELETE_WRITTEN = "DELETE FROM content_items_all WHERE title = 'bench cache writer'"


def _writer(
    dsn: str, tags: list[str], viewer: int, stop: threading.Event, seed: int, commits: list[int]
) -> None:
    rng = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            chosen = rng.sample(tags, min(WRITER_TAGS, len(tags)))
            conn.execute(INSERT_ITEM, {"viewer": viewer, "tags": chosen})
            commits.append(1)


def _run_threads(threads: list[threading.Thread], stop: threading.Event, seconds: float) -> float:
    """Start the threads, let them run for seconds, stop and join them: the time taken."""
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def measure_concurrent_writers(
    dsn: str, conn: psycopg.Connection, viewer: int, writers: int, seconds: float
) -> dict[str, Any]:
    tags = _popular_tags(conn, POPULAR)
    totals: dict[bool, list[float]] = {True: [0, 0.0], False: [0, 0.0]}
    slices = max(2, round(seconds / SLICE_SECONDS))
    try:
        for n in range(slices * 2):
            enabled = n % 2 == 0
            with _write_triggers(conn, enabled):
                stop = threading.Event()
                commits: list[int] = []
                threads = [
                    threading.Thread(
                        target=_writer, args=(dsn, tags, viewer, stop, 100 * n + w, commits)
                    )
                    for w in range(writers)
                ]
                elapsed = _run_threads(threads, stop, seconds / slices)
                totals[enabled][0] += len(commits)
                totals[enabled][1] += elapsed
            conn.execute(DELETE_WRITTEN)
    finally:
        conn.execute(DELETE_WRITTEN)
    with_rate = totals[True][0] / totals[True][1]
    without_rate = totals[False][0] / totals[False][1]
    return {
        "writers": writers,
        "tags_per_item": WRITER_TAGS,
        "among_popular_tags": POPULAR,
        "with_triggers_commits_per_s": with_rate,
        "without_triggers_commits_per_s": without_rate,
        "kept": with_rate / without_rate,
    }


def _mix_filters(conn: psycopg.Connection, seed: int) -> list[list[str]]:
    """Single tags and pairs among the most frequent tags, in a seeded order of
    popularity (the first is asked for most)."""
    tags = _popular_tags(conn, 200)
    rng = random.Random(seed)
    filters = [[t] for t in tags[: MIX_FILTERS // 2]]
    while len(filters) < MIX_FILTERS:
        filters.append(rng.sample(tags[:60], 2))
    rng.shuffle(filters)
    return filters


PAGE = (
    "SELECT row_cursor FROM gallery.gallery_page(%(tags)s::uuid[], %(cursor)s, %(size)s,"
    " sources => '{community-regular,community-auto}')"
)


def _reader(
    dsn: str,
    filters: list[list[str]],
    stop: threading.Event,
    seed: int,
    times: list[float],
) -> None:
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(filters))]
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            tags = rng.choices(filters, weights)[0]
            started = time.perf_counter()
            rows = conn.execute(PAGE, {"tags": tags, "cursor": None, "size": PAGE_SIZE}).fetchall()
            times.append((time.perf_counter() - started) * 1000)
            if rows and rng.random() < 0.2:
                started = time.perf_counter()
                conn.execute(PAGE, {"tags": tags, "cursor": rows[-1][0], "size": PAGE_SIZE})
                times.append((time.perf_counter() - started) * 1000)


def _mix_writer(dsn: str, tags: list[str], viewer: int, stop: threading.Event) -> None:
    """About 20 writes a second: an item with 5 popular tags, deleted again later."""
    rng = random.Random(7)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            conn.execute(INSERT_ITEM, {"viewer": viewer, "tags": rng.sample(tags, 5)})
            if rng.random() < 0.5:
                conn.execute(
                    "DELETE FROM content_items_all WHERE id = (SELECT min(id)"
                    " FROM content_items_all WHERE title = 'bench cache writer')"
                )
            time.sleep(0.05)


def measure_mix(
    dsn: str, conn: psycopg.Connection, viewer: int, seconds: float, seed: int
) -> dict[str, Any]:
    filters = _mix_filters(conn, seed)
    writer_tags = _popular_tags(conn, 60)
    results: dict[bool, dict[str, Any]] = {}
    slices = max(2, round(seconds / SLICE_SECONDS))
    times: dict[bool, list[float]] = {True: [], False: []}
    counts = {"hits": 0, "misses": 0}
    try:
        for n in range(slices * 2):
            enabled = n % 2 == 0
            with _cache(conn, enabled):
                before = conn.execute("SELECT hits, misses FROM gallery_cache_summary").fetchone()
                stop = threading.Event()
                threads = [
                    threading.Thread(
                        target=_reader, args=(dsn, filters, stop, 1000 * n + r, times[enabled])
                    )
                    for r in range(MIX_READERS)
                ]
                threads.append(
                    threading.Thread(target=_mix_writer, args=(dsn, writer_tags, viewer, stop))
                )
                _run_threads(threads, stop, seconds / slices)
                after = conn.execute("SELECT hits, misses FROM gallery_cache_summary").fetchone()
                if enabled and before and after:
                    counts["hits"] += after[0] - before[0]
                    counts["misses"] += after[1] - before[1]
    finally:
        conn.execute(DELETE_WRITTEN)
    for enabled in (True, False):
        results[enabled] = {
            "calls": len(times[enabled]),
            "median_ms": _quantile(times[enabled], 0.5),
            "p95_ms": _quantile(times[enabled], 0.95),
        }
    return {
        "filters": len(filters),
        "readers": MIX_READERS,
        "with_cache": results[True],
        "without_cache": results[False],
        "hit_rate": counts["hits"] / max(1, counts["hits"] + counts["misses"]),
    }


@dataclass
class CacheReport:
    label: str
    command: str
    machine: dict[str, Any]
    data: dict[str, Any]
    pages: list[dict[str, Any]]
    writes: dict[str, Any]
    writers: dict[str, Any]
    mix: dict[str, Any]


def run(dsn: str, label: str, seed: int, command: str, seconds: float) -> CacheReport:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET search_path = gallery, public")
        prepare_gallery_page(conn)
        classes = [qc for qc in choose_classes(conn, seed) if qc.page == 1]
        viewer = classes[0].viewer_id
        try:
            pages = measure_pages(conn, classes, RUNS)
            writes = measure_writes(conn, viewer, INSERT_RUNS)
            writers = measure_concurrent_writers(dsn, conn, viewer, WRITERS, seconds)
            mix = measure_mix(dsn, conn, viewer, seconds, seed)
        finally:
            conn.execute("UPDATE gallery_config SET cache_enabled = false")
            conn.execute("SELECT gallery.gallery_cache_clear()")
        return CacheReport(
            label, command, machine_info(conn), data_info(conn), pages, writes, writers, mix
        )


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}"


def markdown(report: CacheReport) -> str:
    lines = [
        f"# Page cache, {report.label}",
        "",
        f"`{report.command}`",
        "",
        "## First pages: server time (ms), uncached vs a miss that stores the page vs a hit",
        "",
        "| class | uncached p50 | p95 | miss p50 | p95 | hit p50 | p95 | uncached / hit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report.pages:
        u, m, h = c["uncached"], c["miss"], c["hit"]
        lines.append(
            f"| {c['label']} | {_ms(u['median_ms'])} | {_ms(u['p95_ms'])} | {_ms(m['median_ms'])}"
            f" | {_ms(m['p95_ms'])} | {_ms(h['median_ms'])} | {_ms(h['p95_ms'])}"
            f" | {c['speedup']:.1f}x |"
        )
    w, cw, mix = report.writes, report.writers, report.mix
    lines += [
        "",
        "## Writes",
        "",
        f"Item with {w['tags']} tags, server time: {_ms(w['with_triggers_median_ms'])} ms with"
        f" the cache's write triggers, {_ms(w['without_triggers_median_ms'])} ms without"
        f" ({w['overhead']:+.1%}).",
        "",
        f"{cw['writers']} concurrent writers, items with {cw['tags_per_item']} of the"
        f" {cw['among_popular_tags']} most popular tags: "
        f"{cw['with_triggers_commits_per_s']:.0f} commits/s with the triggers,"
        f" {cw['without_triggers_commits_per_s']:.0f} without ({cw['kept']:.0%} kept).",
        "",
        "## Skewed mix (zipf popularity of filters, a writer on popular tags)",
        "",
        f"{mix['filters']} filters, {mix['readers']} readers; client time per call (ms):",
        "",
        "| | calls | p50 | p95 |",
        "|---|---|---|---|",
    ]
    for name, key in (("with the cache", "with_cache"), ("without", "without_cache")):
        r = mix[key]
        lines.append(f"| {name} | {r['calls']} | {_ms(r['median_ms'])} | {_ms(r['p95_ms'])} |")
    lines += ["", f"Hit rate with the cache: {mix['hit_rate']:.1%}.", ""]
    return "\n".join(lines)


def write_outputs(report: CacheReport, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {s: out / f"cache-{report.label}.{s}" for s in ("json", "md")}
    paths["json"].write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(report))
    return paths
