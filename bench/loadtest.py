"""The gallery under load: readers walking pages while writers change the data.

Readers (``clients``, each with its own connection and a viewer of its own) walk
pages of a mix of query kinds (:func:`query_kinds`): the anonymous feed without
a tag filter, one popular tag, two popular tags under 'all', 'any' of three
medium or rare tags, and the viewer's own items (user-* sources, private ones
included). A walk takes a kind, a page size in 10..50 and up to ``max_pages``
pages forward from the first page; about a third of the walks then go back up
to that many pages with direction 'prev' from the last page they reached.

Writers (``writers``, each with its own connection and its own share of the
items, so that they never wait for each other) commit one change per
transaction: an insert of an item with 1-6 tags (half of them newest, half at
the created_at of an existing item, ties included), a delete, a re-tag (one
link removed, one added), a privacy flip. The same transaction brings the GIN
baseline's row of the item in line (:func:`bench.baselines.copy_item`), so both
approaches see the same data under the same write load. A writer records the
items it changes as touched before it commits.

``gallery_stats_refresh()`` runs every ``stats_every`` seconds; once, in the
middle of a gallery_page slice near the middle of the run, ``pydeploy apply``
deploys a copy of the SQL in which gallery_page's comment is changed, so that the
function is replaced while readers call it (the original is deployed back after
the run).

Approaches alternate in slices of ``slice_seconds``: gallery_page, then the bare
GIN int[] query of :mod:`bench.baselines` (its schema ``bench_gin``, built when
missing or out of date, with the same filters, page sizes and walks), so both
share the machine's background load. A walk keeps the approach it started with.

Checks, on every page and walk:

* foreign rows: a row with is_private whose creator is not the reader's viewer;
* repeated items and order: the items of the forward pages (and, apart, of the
  'prev' pages followed by the row they started from) are distinct and strictly
  in (created_at DESC, id DESC) order;
* skipped items: after the walk, every item that matches the filter now, lies
  inside the key range the pages covered (up to the newest item when the walk
  started at the top or went back to it, down to the oldest when it reached the
  end) and was not touched by a writer since the walk began (nor being changed
  when it began) must have been returned.

Latency is the client's wall time of one page (execute and fetch); clients use
psycopg's defaults (statements prepared after five runs).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import psycopg
from psycopg import sql

from bench import baselines
from bench.baselines import Keyset
from bench.run import _quantile, data_info, machine_info
from bench.workload import ALL_SOURCES, OWN_SOURCES, QueryClass, choose_classes
from pydeploy import api
from pydeploy.sources import default_sql_dir

GALLERY = "gallery_page"
GIN = "gin"
COMMUNITY_SOURCES = ("community-regular", "community-auto")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
STATEMENT_TIMEOUT_MS = 30_000
BACK_WALK_SHARE = 0.3
PAGE_SIZES = (10, 50)
NEW_ITEM_TAGS = (1, 6)
NEW_ITEM_PRIVATE_SHARE = 0.1
SAMPLES_KEPT = 20  # problems kept per kind of problem, for the report
REDEPLOYED_FUNCTION = "gallery_page.sql"
REDEPLOY_MARK = "[redeployed under load] "
CHECKS = ("foreign_rows", "skipped_items", "repeated_items", "out_of_order", "errors")


@dataclass(frozen=True)
class LoadConfig:
    clients: int = 16
    writers: int = 2
    seconds: float = 300.0
    slice_seconds: float = 30.0
    stats_every: float = 30.0
    write_pause_s: float = 0.05  # between a writer's transactions
    max_pages: int = 20  # per walk, each way
    baseline: bool = True  # alternate with the GIN baseline
    redeploy: bool = True  # pydeploy apply of a changed function mid-run
    seed: int = 1


@dataclass(frozen=True)
class QueryKind:
    name: str
    weight: int
    tags: tuple[uuid.UUID, ...]
    match: str
    sources: tuple[str, ...]
    anonymous: bool = False

    def query_class(self, viewer: int | None) -> QueryClass:
        """The kind as the baselines' query class; viewer None: an anonymous caller."""
        return QueryClass(self.name, self.tags, self.match, self.sources, viewer)  # type: ignore[arg-type]


def query_kinds(conn: psycopg.Connection, seed: int) -> list[QueryKind]:
    """The readers' mix, with the tags the bench's own query classes pick from the data."""
    classes = {c.label: c for c in choose_classes(conn, seed)}
    return [
        QueryKind("feed, anonymous", 30, (), "all", COMMUNITY_SOURCES, anonymous=True),
        QueryKind("1 popular tag", 25, classes["1 popular tag, page 1"].tags, "all", ALL_SOURCES),
        QueryKind("2 popular tags, all", 15, classes["2 popular tags"].tags, "all", ALL_SOURCES),
        QueryKind("any of 3", 15, classes["ANY of 3"].tags, "any", ALL_SOURCES),
        QueryKind("viewer's own items", 15, (), "all", OWN_SOURCES),
    ]


def require_local(dsn: str) -> None:
    """Refuse a DSN that points anywhere but this machine (loopback or a local socket)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    hosts = [h for key in ("host", "hostaddr") for h in str(params.get(key) or "").split(",")]
    remote = [h for h in hosts if h and h not in LOCAL_HOSTS and not h.startswith("/")]
    if remote:
        raise ValueError(f"the load test only runs against this machine, not {', '.join(remote)}")


# ---------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class PageRow:
    id: int
    created_at: datetime
    creator_id: int
    is_private: bool
    cursor: str | None  # gallery_page's row_cursor; the GIN baseline pages by key

    @property
    def key(self) -> Keyset:
        return self.created_at, self.id


GALLERY_PAGE_SQL = """
SELECT id, created_at, creator_id, is_private, row_cursor FROM gallery.gallery_page(
    tags => %(tags)s::uuid[], cursor => %(cursor)s, page_size => %(page_size)s,
    match => %(match)s, sources => %(sources)s::text[], viewer_id => %(viewer)s,
    direction => %(direction)s)
"""


def gallery_page(
    conn: psycopg.Connection, qc: QueryClass, page_size: int, after: PageRow | None, direction: str
) -> list[PageRow]:
    rows = conn.execute(
        GALLERY_PAGE_SQL,
        {
            "tags": list(qc.tags),
            "cursor": None if after is None else after.cursor,
            "page_size": page_size,
            "match": qc.match,
            "sources": list(qc.sources),
            "viewer": qc.viewer_id,
            "direction": direction,
        },
    ).fetchall()
    return [PageRow(*r) for r in rows]


def gin_page(
    conn: psycopg.Connection,
    gin: baselines.ArrayBaseline,
    tag_nos: Sequence[int],
    qc: QueryClass,
    page_size: int,
    after: PageRow | None,
    direction: str,
) -> list[PageRow]:
    """The baseline's page, with each row's creator and privacy read in the same
    statement (one primary-key lookup per row, as gallery_page does)."""
    page, params = baselines.gin_query(
        gin,
        qc,
        None if after is None else after.key,
        tag_nos,
        page_size=page_size,
        newer=direction == "prev",
    )
    statement = sql.SQL(
        "SELECT p.id, p.created_at, i.creator_id, i.is_private, NULL::text FROM ({}) AS p"
        " JOIN {} i ON i.id = p.id ORDER BY p.created_at DESC, p.id DESC"
    ).format(page, sql.Identifier(gin.schema, "items"))
    return [PageRow(*r) for r in conn.execute(statement, params).fetchall()]


def matching_ids(
    conn: psycopg.Connection, qc: QueryClass, low: Keyset | None, high: Keyset | None
) -> set[int]:
    """Items that match the filter now, with low <= (created_at, id) <= high (None: no
    bound), by brute force on the package's tables (the baselines' EXISTS per tag)."""
    conditions = [
        baselines._scope(qc.sources),
        *baselines._exists(qc.match, len(qc.tags), sql.SQL("i.source_type")),
    ]
    params: dict[str, object] = {"viewer": qc.viewer_id, **baselines._tag_params(qc)}
    for name, bound, operator in (("low", low, ">="), ("high", high, "<=")):
        if bound is not None:
            conditions.append(
                sql.SQL("(i.created_at, i.id) {} ({}::timestamptz, {}::bigint)").format(
                    sql.SQL(operator), sql.Placeholder(f"{name}_at"), sql.Placeholder(f"{name}_id")
                )
            )
            params |= {f"{name}_at": bound[0], f"{name}_id": bound[1]}
    statement = sql.SQL("SELECT i.id FROM content_items_all i WHERE {}").format(
        baselines._where(conditions)
    )
    return {r[0] for r in conn.execute(statement, params)}


# ---------------------------------------------------------------------------- checks


def foreign_rows(rows: Sequence[PageRow], viewer: int | None) -> list[PageRow]:
    """Other users' private items (every private item for an anonymous viewer)."""
    return [r for r in rows if r.is_private and r.creator_id != viewer]


def repeated_items(rows: Sequence[PageRow]) -> list[int]:
    counts = Counter(r.id for r in rows)
    return sorted(item for item, n in counts.items() if n > 1)


def out_of_order(rows: Sequence[PageRow]) -> list[tuple[int, int]]:
    """Neighbours not strictly in (created_at DESC, id DESC) order."""
    return [(a.id, b.id) for a, b in pairwise(rows) if not a.key > b.key]


def skipped_items(rows: Sequence[PageRow], matching: set[int], touched: set[int]) -> set[int]:
    """Items that matched (in the walked range), untouched, and were not returned."""
    return matching - touched - {r.id for r in rows}


class TouchLog:
    """Which items writers changed, in order; a writer records an item before it commits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[int] = []
        self._in_flight: Counter[int] = Counter()

    @contextmanager
    def changing(self, items: Sequence[int]) -> Iterator[None]:
        with self._lock:
            self._items.extend(items)
            self._in_flight.update(items)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight.subtract(items)
                self._in_flight += Counter()  # drops the zeros

    def mark(self) -> tuple[int, frozenset[int]]:
        """Where a walk starts: the log's position and the items being changed now."""
        with self._lock:
            return len(self._items), frozenset(self._in_flight)

    def touched_since(self, mark: tuple[int, frozenset[int]]) -> set[int]:
        position, in_flight = mark
        with self._lock:
            return set(self._items[position:]) | in_flight


# ---------------------------------------------------------------------------- readers


@dataclass
class Tally:
    """One client's counts: latencies per (approach, kind), checks per approach."""

    latencies_ms: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    walks: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    checks: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    samples: dict[str, list[dict[str, object]]] = field(default_factory=lambda: defaultdict(list))

    def problem(self, approach: str, check: str, count: int, **details: object) -> None:
        if count <= 0:
            return
        self.checks[approach][check] += count
        kept = self.samples[check]
        if len(kept) < SAMPLES_KEPT:
            kept.append({"approach": approach, "count": count, **details})

    def merge(self, other: Tally) -> None:
        for key, values in other.latencies_ms.items():
            self.latencies_ms[key] += values
        self.walks += other.walks
        self.rows += other.rows
        for approach, counts in other.checks.items():
            self.checks[approach] += counts
        for check, kept in other.samples.items():
            self.samples[check] = (self.samples[check] + kept)[:SAMPLES_KEPT]


@dataclass
class Load:
    """What readers, writers and the coordinator share."""

    dsn: str
    config: LoadConfig
    kinds: list[QueryKind]
    viewers: list[int]
    gin: baselines.ArrayBaseline | None
    gin_tag_nos: dict[str, list[int]]
    touches: TouchLog = field(default_factory=TouchLog)
    approach: str = GALLERY
    stop: threading.Event = field(default_factory=threading.Event)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            application_name="bench loadtest",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )

    def pager(
        self, approach: str, kind: QueryKind
    ) -> Callable[[psycopg.Connection, QueryClass, int, PageRow | None, str], list[PageRow]]:
        if approach == GALLERY:
            return gallery_page
        gin, tag_nos = self.gin, self.gin_tag_nos[kind.name]
        assert gin is not None
        return lambda conn, qc, size, after, direction: gin_page(
            conn, gin, tag_nos, qc, size, after, direction
        )


def walk(
    conn: psycopg.Connection,
    load: Load,
    approach: str,
    tally: Tally,
    rng: random.Random,
    viewer: int,
) -> None:
    """One walk with one approach: pages forward, maybe some back, every check."""
    kind = rng.choices(load.kinds, weights=[k.weight for k in load.kinds])[0]
    qc = kind.query_class(None if kind.anonymous else viewer)
    page_size = rng.randint(*PAGE_SIZES)
    forward_pages = rng.randint(1, load.config.max_pages)
    back_pages = rng.randint(1, forward_pages) if rng.random() < BACK_WALK_SHARE else 0
    fetch = load.pager(approach, kind)
    mark = load.touches.mark()
    tally.walks[approach] += 1

    def page(after: PageRow | None, direction: str) -> list[PageRow]:
        started = time.perf_counter()
        rows = fetch(conn, qc, page_size, after, direction)
        tally.latencies_ms[approach, kind.name].append((time.perf_counter() - started) * 1000)
        tally.rows[approach] += len(rows)
        foreign = foreign_rows(rows, qc.viewer_id)
        tally.problem(
            approach,
            "foreign_rows",
            len(foreign),
            kind=kind.name,
            viewer=qc.viewer_id,
            items=[r.id for r in foreign],
        )
        return rows

    def check_range(rows: list[PageRow], low: Keyset | None, high: Keyset | None, way: str) -> None:
        details = {"kind": kind.name, "viewer": qc.viewer_id, "page_size": page_size, "way": way}
        repeated = repeated_items(rows)
        tally.problem(approach, "repeated_items", len(repeated), items=repeated[:10], **details)
        disorder = out_of_order(rows)
        tally.problem(approach, "out_of_order", len(disorder), pairs=disorder[:10], **details)
        matching = matching_ids(conn, qc, low, high)
        skipped = skipped_items(rows, matching, load.touches.touched_since(mark))
        tally.problem(
            approach, "skipped_items", len(skipped), items=sorted(skipped)[:10], **details
        )

    walked: list[PageRow] = []
    last: list[PageRow] = []
    at_end = False
    for _ in range(forward_pages):
        rows = page(walked[-1] if walked else None, "next")
        walked += rows
        if rows:
            last = rows
        if len(rows) < page_size:
            at_end = True
            break
    check_range(walked, None if at_end or not walked else walked[-1].key, None, "next")

    if back_pages and last:
        anchor = last[0]
        back: list[PageRow] = []
        at_top = False
        for _ in range(back_pages):
            rows = page(back[0] if back else anchor, "prev")
            back = rows + back
            if len(rows) < page_size:
                at_top = True
                break
        chain = [*back, anchor]
        check_range(chain, anchor.key, None if at_top else chain[0].key, "prev")


def read(load: Load, number: int) -> Tally:
    """A reader client: walks until the load stops; an error ends the walk (and is
    counted), a broken connection is replaced."""
    tally = Tally()
    rng = random.Random(load.config.seed * 10_000 + number)
    viewer = rng.choice(load.viewers)
    conn = load.connect()
    try:
        while not load.stop.is_set():
            approach = load.approach
            try:
                walk(conn, load, approach, tally, rng, viewer)
            except psycopg.Error as exc:
                tally.problem(approach, "errors", 1, error=str(exc).strip().splitlines()[0])
                if conn.broken or conn.closed:
                    conn = load.connect()
    finally:
        conn.close()
    return tally


# ---------------------------------------------------------------------------- writers

WRITE_KINDS = {"insert": 30, "delete": 15, "re-tag": 30, "privacy flip": 25}

INSERT_ITEM_SQL = """
INSERT INTO content_items_all (id, title, content_type, creator_id, source_type, is_private,
                               created_at)
VALUES (%(id)s, 'load test item', 'image', %(creator)s, %(source)s, %(private)s,
        coalesce((SELECT created_at FROM content_items_all WHERE id = %(same_time_as)s), now()))
"""
INSERT_LINKS_SQL = """
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT %(id)s, %(source)s, t FROM unnest(%(tags)s::uuid[]) AS t ON CONFLICT DO NOTHING
"""
UNTAG_SQL = """
DELETE FROM content_tags
 WHERE (content_id, content_source, tag_id) IN (
       SELECT content_id, content_source, tag_id FROM content_tags
        WHERE content_id = %(id)s ORDER BY tag_id OFFSET %(nth)s LIMIT 1)
"""
TAG_SQL = """
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT i.id, i.source_type, %(tag)s FROM content_items_all i WHERE i.id = %(id)s
ON CONFLICT DO NOTHING
"""


@dataclass
class WriterTally:
    writes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def write(load: Load, number: int, items: list[int], tag_pool: list[uuid.UUID]) -> WriterTally:
    """A writer client: one committed change after another, on its own items."""
    tally = WriterTally()
    rng = random.Random(load.config.seed * 10_000 + 5_000 + number)
    kinds, weights = list(WRITE_KINDS), list(WRITE_KINDS.values())
    with psycopg.connect(
        load.dsn,
        application_name="bench loadtest writer",
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    ) as conn:
        while not load.stop.wait(load.config.write_pause_s):
            kind = rng.choices(kinds, weights)[0] if len(items) > 1 else "insert"
            try:
                item = _write_once(conn, load, kind, items, tag_pool, rng)
                tally.writes[kind] += 1
                if kind == "insert":
                    items.append(item)
                elif kind == "delete":
                    items.remove(item)
            except psycopg.Error as exc:
                conn.rollback()
                tally.errors.append(f"{kind}: {str(exc).strip().splitlines()[0]}")
    return tally


def _write_once(
    conn: psycopg.Connection,
    load: Load,
    kind: str,
    items: list[int],
    tag_pool: list[uuid.UUID],
    rng: random.Random,
) -> int:
    """One change in its own transaction; the item it changed (or created)."""
    if kind == "insert":
        (item,) = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('content_items_all', 'id'))"
        ).fetchone()
        conn.commit()
    else:
        item = rng.choice(items)
    with load.touches.changing([item]), conn.transaction():
        if kind == "insert":
            params = {
                "id": item,
                "creator": rng.choice(load.viewers),
                "source": rng.choice(("items", "auto")),
                "private": rng.random() < NEW_ITEM_PRIVATE_SHARE,
                "same_time_as": rng.choice(items) if rng.random() < 0.5 else None,
                "tags": rng.sample(tag_pool, rng.randint(*NEW_ITEM_TAGS)),
            }
            conn.execute(INSERT_ITEM_SQL, params)
            conn.execute(INSERT_LINKS_SQL, params)
        elif kind == "delete":
            conn.execute("DELETE FROM content_items_all WHERE id = %s", (item,))
        elif kind == "re-tag":
            params = {"id": item, "nth": rng.randrange(3), "tag": rng.choice(tag_pool)}
            conn.execute(UNTAG_SQL, params)
            conn.execute(TAG_SQL, params)
        else:
            conn.execute(
                "UPDATE content_items_all SET is_private = NOT is_private WHERE id = %s", (item,)
            )
        if load.gin is not None:
            baselines.copy_item(conn, load.gin.schema, item)
    return item


# ---------------------------------------------------------------------------- the run


@dataclass
class Report:
    label: str
    command: str
    date: str
    config: LoadConfig
    machine: dict[str, object]
    data: dict[str, object]
    kinds: list[QueryKind]
    active_seconds: dict[str, float]
    tally: Tally
    writes: dict[str, int]
    writer_errors: list[str]
    stats_refreshes: list[dict[str, object]]
    redeploy: dict[str, object]

    @property
    def approaches(self) -> list[str]:
        return [a for a in (GALLERY, GIN) if self.active_seconds.get(a)]

    def checks(self, approach: str) -> dict[str, int]:
        return {check: self.tally.checks[approach][check] for check in CHECKS}

    @property
    def failures(self) -> list[str]:
        found = [
            f"{approach}: {n:,} {check.replace('_', ' ')}"
            for approach in self.approaches
            for check, n in self.checks(approach).items()
            if n
        ]
        found += [f"writer: {e}" for e in self.writer_errors[:SAMPLES_KEPT]]
        found += [f"stats refresh: {r['error']}" for r in self.stats_refreshes if r.get("error")]
        if self.redeploy.get("error"):
            found.append(f"redeploy: {self.redeploy['error']}")
        return found

    def figures(self, approach: str, kind: str | None) -> dict[str, float | int | None]:
        """Pages, pages/s over the approach's active time, p50/p95/max page latency."""
        values = [
            ms
            for (a, k), latencies in self.tally.latencies_ms.items()
            if a == approach and kind in (None, k)
            for ms in latencies
        ]
        seconds = self.active_seconds.get(approach) or 0
        return {
            "pages": len(values),
            "pages_per_s": len(values) / seconds if seconds else None,
            "p50_ms": _quantile(values, 0.5) if values else None,
            "p95_ms": _quantile(values, 0.95) if values else None,
            "max_ms": max(values, default=None),
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "command": self.command,
            "date": self.date,
            "config": self.config.__dict__,
            "machine": self.machine,
            "data": self.data,
            "kinds": [
                {**k.__dict__, "tags": [str(t) for t in k.tags], "sources": list(k.sources)}
                for k in self.kinds
            ],
            "active_seconds": self.active_seconds,
            "results": {
                approach: {
                    "all": self.figures(approach, None),
                    "kinds": {k.name: self.figures(approach, k.name) for k in self.kinds},
                    "walks": self.tally.walks[approach],
                    "rows": self.tally.rows[approach],
                    "checks": self.checks(approach),
                }
                for approach in self.approaches
            },
            "problem_samples": dict(self.tally.samples),
            "writes": self.writes,
            "writer_errors": self.writer_errors,
            "stats_refreshes": self.stats_refreshes,
            "redeploy": self.redeploy,
            "failures": self.failures,
        }


def _schedule(config: LoadConfig) -> list[tuple[str, float, float]]:
    """(approach, start, end) slices, in seconds from the start of the load."""
    approaches = (GALLERY, GIN) if config.baseline else (GALLERY,)
    length = config.slice_seconds if config.baseline else config.seconds
    slices, start, n = [], 0.0, 0
    while start < config.seconds:
        end = min(start + length, config.seconds)
        slices.append((approaches[n % len(approaches)], start, end))
        start, n = end, n + 1
    return slices


def _redeploy_at(slices: list[tuple[str, float, float]], seconds: float) -> float:
    """The middle of the run if gallery_page is read then, else the middle of the next
    gallery_page slice (or of the last one)."""
    middle = seconds / 2
    gallery = [(s, e) for a, s, e in slices if a == GALLERY]
    for start, end in gallery:
        if start <= middle < end:
            return middle
        if start > middle:
            return (start + end) / 2
    return sum(gallery[-1]) / 2


def changed_sql_copy(sql_dir: Path, into: Path) -> Path:
    """A copy of the SQL tree in which gallery_page's comment text is changed."""
    copy = into / "pgsql"
    shutil.copytree(sql_dir, copy)
    path = copy / "functions" / REDEPLOYED_FUNCTION
    text, changed = re.subn(
        r"(COMMENT ON FUNCTION [^;]*? IS\s+')", rf"\1{REDEPLOY_MARK}", path.read_text(), count=1
    )
    if not changed:
        raise RuntimeError(f"{REDEPLOYED_FUNCTION} has no COMMENT ON FUNCTION to change")
    path.write_text(text)
    return copy


def _redeploy(dsn: str, sql_dir: Path, when: float, started: float, load: Load) -> dict:
    result: dict[str, object] = {"planned_at_s": round(when, 1)}
    if load.stop.wait(max(0.0, started + when - time.monotonic())):
        result["error"] = "the run stopped first"
        return result
    with tempfile.TemporaryDirectory() as tmp:
        copy = changed_sql_copy(sql_dir, Path(tmp))
        result["at_s"] = round(time.monotonic() - started, 1)
        result["during"] = load.approach
        begun = time.perf_counter()
        try:
            applied = api.apply(dsn, copy)
        except Exception as exc:  # reported, and fails the run
            result["error"] = str(exc).strip()
            return result
        result["seconds"] = time.perf_counter() - begun
    result["actions"] = [f"{f.action} {f.signature}" for f in applied.function_actions]
    if not any(REDEPLOYED_FUNCTION.removesuffix(".sql") in a for a in result["actions"]):
        result["error"] = f"apply did not redeploy {REDEPLOYED_FUNCTION}: {result['actions']}"
    return result


def _refresh_stats(load: Load, started: float) -> list[dict[str, object]]:
    runs: list[dict[str, object]] = []
    with load.connect() as conn:
        while not load.stop.wait(load.config.stats_every):
            at = round(time.monotonic() - started, 1)
            try:
                refreshed, seconds = conn.execute(
                    "SELECT refreshed, seconds FROM gallery.gallery_stats_refresh()"
                ).fetchone()
                runs.append({"at_s": at, "refreshed": refreshed, "ms": seconds * 1000})
            except psycopg.Error as exc:
                runs.append({"at_s": at, "error": str(exc).strip().splitlines()[0]})
    return runs


def prepare_baseline(conn: psycopg.Connection) -> baselines.ArrayBaseline:
    """bench_gin, built when missing, out of date, or not equal to the data row for row."""
    baselines.ensure_baselines(conn, rebuild=False, schemas=(baselines.GIN_SCHEMA,))
    if not baselines.array_baseline_in_sync(conn, baselines.GIN_SCHEMA):
        baselines.ensure_baselines(conn, rebuild=True, schemas=(baselines.GIN_SCHEMA,))
    return baselines.array_baseline(conn, baselines.GIN_SCHEMA)


def run(
    dsn: str,
    config: LoadConfig,
    *,
    label: str,
    command: str,
    sql_dir: Path | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Report:
    """The whole load test on the (local) database at dsn; it changes the data."""
    require_local(dsn)
    sql_dir = sql_dir or default_sql_dir()
    with psycopg.connect(dsn, autocommit=True) as conn:
        log("gallery_stats_refresh(), query kinds")
        conn.execute("SELECT gallery.gallery_stats_refresh()")
        kinds = query_kinds(conn, config.seed)
        viewers = [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
        items = [r[0] for r in conn.execute("SELECT id FROM content_items_all ORDER BY id")]
        gin, gin_tag_nos = None, {}
        if config.baseline:
            log("GIN baseline (bench_gin)")
            gin = prepare_baseline(conn)
            gin_tag_nos = {k.name: gin.tag_numbers(conn, k.tags) for k in kinds}
        # writers tag with the readers' tags and some others
        others = [r[0] for r in conn.execute("SELECT id FROM tags ORDER BY md5(id::text) LIMIT 20")]
        machine, data = machine_info(conn), data_info(conn)
    tag_pool = list(dict.fromkeys([*(t for k in kinds for t in k.tags), *others]))
    load = Load(dsn, config, kinds, viewers, gin, gin_tag_nos)
    slices = _schedule(config)
    active: Counter[str] = Counter()
    threads: dict[str, list] = {"readers": [], "writers": [], "stats": [], "redeploy": []}

    def spawn(group: str, target: Callable[[], object]) -> None:
        box: list = []  # the result, or the exception that ended the thread

        def body() -> None:
            try:
                box.append(target())
            except BaseException as exc:
                box.append(exc)
                load.stop.set()

        thread = threading.Thread(target=body, daemon=True)
        threads[group].append((thread, box))
        thread.start()

    log(f"{config.clients} readers, {config.writers} writers, {config.seconds:.0f} s")
    started = time.monotonic()
    for n in range(config.writers):
        share = [i for i in items if i % config.writers == n]
        spawn("writers", lambda n=n, share=share: write(load, n, share, tag_pool))
    for n in range(config.clients):
        spawn("readers", lambda n=n: read(load, n))
    spawn("stats", lambda: _refresh_stats(load, started))
    if config.redeploy:
        when = _redeploy_at(slices, config.seconds)
        spawn("redeploy", lambda: _redeploy(dsn, sql_dir, when, started, load))
    try:
        for approach, _, end in slices:
            load.approach = approach
            slice_started = time.monotonic()
            stopped = load.stop.wait(max(0.0, started + end - time.monotonic()))
            active[approach] += time.monotonic() - slice_started
            if stopped:  # a thread failed
                break
    finally:
        load.stop.set()
        for group in threads.values():
            for thread, _ in group:
                thread.join(timeout=STATEMENT_TIMEOUT_MS / 1000 * 2)

    def results(group: str) -> list:
        if any(thread.is_alive() for thread, _ in threads[group]):
            raise RuntimeError(f"{group} did not stop")
        for _, box in threads[group]:
            if isinstance(box[0], BaseException):
                raise RuntimeError(f"one of the {group} failed") from box[0]
        return [box[0] for _, box in threads[group]]

    tally = Tally()
    for reader_tally in results("readers"):
        tally.merge(reader_tally)
    writes: Counter[str] = Counter()
    writer_errors: list[str] = []
    for writer_tally in results("writers"):
        writes += writer_tally.writes
        writer_errors += writer_tally.errors
    redeploy = (results("redeploy") or [{"skipped": "not asked for"}])[0]
    if config.redeploy:
        log("deploying the SQL as it was")
        api.apply(dsn, sql_dir)
    return Report(
        label=label,
        command=command,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config,
        machine=machine,
        data=data,
        kinds=kinds,
        active_seconds=dict(active),
        tally=tally,
        writes=dict(writes),
        writer_errors=writer_errors,
        stats_refreshes=(results("stats") or [[]])[0],
        redeploy=redeploy,
    )


# ---------------------------------------------------------------------------- outputs


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _rate(value: float | int | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def markdown(report: Report) -> str:
    config, data, machine = report.config, report.data, report.machine
    approaches = report.approaches
    refreshes = [r for r in report.stats_refreshes if "ms" in r]
    redeploy = report.redeploy
    lines = [
        f"# Load test: {report.label}",
        "",
        f"`{report.command}` on {report.date}: {machine['cores']} cores, "
        f"{str(machine['postgresql']).split(' on ')[0]}; {data['items']:,} items + "
        f"{data['auto_items']:,} auto items, {int(data['links'] or 0):,} links, "
        f"{data['tags']:,} tags, {data['users']:,} users (before the run).",
        "",
        f"{config.clients} reader clients, {config.writers} writer clients "
        f"({sum(report.writes.values()):,} committed writes: "
        + ", ".join(f"{n:,} {kind}" for kind, n in sorted(report.writes.items()))
        + f"), gallery_stats_refresh() every {config.stats_every:.0f} s ({len(refreshes)} runs"
        + (f", median {statistics.median(r['ms'] for r in refreshes):,.0f} ms" if refreshes else "")
        + "). "
        + (
            f"pydeploy apply of a changed gallery_page at {redeploy['at_s']} s, while "
            f"{redeploy['during']} was read: {redeploy['seconds'] * 1000:,.0f} ms "
            f"({', '.join(redeploy['actions'])}). "
            if "seconds" in redeploy
            else ""
        )
        + "Time read per approach: "
        + ", ".join(f"{a} {report.active_seconds[a]:,.0f} s" for a in approaches)
        + (f", alternating every {config.slice_seconds:.0f} s." if len(approaches) > 1 else "."),
        "",
        "Pages per second, and each page's latency at the client (execute + fetch, ms):",
        "",
        "| query kind | share | "
        + " | ".join(f"{a} pages/s | {a} p50 | {a} p95" for a in approaches)
        + " |",
        "|---|---|" + "---|" * (3 * len(approaches)),
    ]
    total_weight = sum(k.weight for k in report.kinds)
    for name, share in [
        *((k.name, f"{k.weight / total_weight:.0%}") for k in report.kinds),
        ("all kinds", "100%"),
    ]:
        kind = None if name == "all kinds" else name
        cells = []
        for approach in approaches:
            f = report.figures(approach, kind)
            cells += [_rate(f["pages_per_s"]), _ms(f["p50_ms"]), _ms(f["p95_ms"])]
        lines.append(f"| {name} | {share} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Checks (see bench/loadtest.py):",
        "",
        "| approach | walks | pages | rows | max ms | "
        + " | ".join(c.replace("_", " ") for c in CHECKS)
        + " |",
        "|---" * (5 + len(CHECKS)) + "|",
    ]
    for approach in approaches:
        f = report.figures(approach, None)
        lines.append(
            f"| {approach} | {report.tally.walks[approach]:,} | {f['pages']:,} | "
            f"{report.tally.rows[approach]:,} | {_ms(f['max_ms'])} | "
            + " | ".join(f"{n:,}" for n in report.checks(approach).values())
            + " |"
        )
    failures = report.failures
    lines += ["", "**FAILED**: " + "; ".join(failures) if failures else "Every check passed."]
    return "\n".join(lines) + "\n"


def write_outputs(report: Report, out: Path) -> dict[str, Path]:
    """<out>/<label>.json and .md."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {suffix: out / f"{report.label}.{suffix}" for suffix in ("json", "md")}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(report))
    return paths
