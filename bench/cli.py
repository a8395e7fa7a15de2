"""Benchmarks of the gallery package. Each command prints what it measured and
how; nothing here runs in the test suite except a small-scale smoke run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import click
import psycopg
import psycopg.sql
from rich.progress import Progress

from bench.generate import DATASETS, generate
from bench.reference import create_reference_database
from pydeploy import api
from pydeploy.db import resolve_dsn

T = TypeVar("T")


@click.group()
def main() -> None:
    """Generate data and measure the gallery package."""


def _fresh_database(name: str) -> str:
    """(Re)create a database on the local server; its DSN."""
    server_dsn = resolve_dsn(None)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        ident = psycopg.sql.Identifier(name)
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(ident))
    return psycopg.conninfo.make_conninfo(server_dsn, dbname=name)


@main.command("generate")
@click.option("--dataset", type=click.Choice(DATASETS), required=True)
@click.option("--scale", default=1.0, show_default=True, type=float)
@click.option("--seed", default=1, show_default=True)
@click.option("--dsn", help="An empty database (default: bench_<dataset> on the local server).")
@click.option("--database", help="Database of the local server to (re)create, when no --dsn.")
def generate_command(
    dataset: str, scale: float, seed: int, dsn: str | None, database: str | None
) -> None:
    """pydeploy apply, then fill the database with a dataset, server side."""
    dsn = dsn or _fresh_database(database or f"bench_{dataset}")
    with Progress(transient=True) as bar:
        tasks: dict[str, object] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done)

        result = generate(dsn, dataset=dataset, scale=scale, seed=seed, progress=progress)
    steps = ", ".join(f"{step} {s:.1f}s" for step, s in result.seconds.items())
    click.echo(
        f"{dataset} at scale {scale} (seed {seed}): {result.items:,} items + "
        f"{result.auto_items:,} auto items, {result.users:,} users, {result.tags:,} tags, "
        f"{result.links:,} links; {steps}"
    )
    click.echo(dsn)


@main.command("backfill")
@click.option("--dsn", help="An empty database (default: the local server's, see --database).")
@click.option("--scale", default=1.0, show_default=True, type=float)
@click.option("--seed", default=1, show_default=True)
@click.option("--jobs", default=2, show_default=True)
@click.option("--reuse", is_flag=True, help="Keep the adopted database; redo only the backfill.")
@click.option(
    "--database",
    default="bench_reference",
    show_default=True,
    help="Database of the local server to (re)create, when no --dsn is given.",
)
def backfill_command(
    dsn: str | None, scale: float, seed: int, jobs: int, reuse: bool, database: str
) -> None:
    """Reference layout -> pydeploy apply (adoption) -> backfill -> verify, timed."""
    timings: dict[str, float] = {}

    def timed(step: str, fn: Callable[[], T]) -> T:
        started = time.monotonic()
        value = fn()
        timings[step] = time.monotonic() - started
        click.echo(f"{step}: {timings[step]:.1f}s", err=True)
        return value

    if dsn is None:
        server_dsn = resolve_dsn(None)
        if not reuse:
            with psycopg.connect(server_dsn, autocommit=True) as conn:
                name = psycopg.sql.Identifier(database)
                conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(name))
        dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=database)
    if reuse:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE content_tags")
            conn.execute("DELETE FROM legacy_tags_backfill")
            conn.execute("CHECKPOINT")
    else:
        with psycopg.connect(dsn) as conn:
            timed(
                "generate reference layout",
                lambda: create_reference_database(conn, scale=scale, seed=seed),
            )
        timed("pydeploy apply (adoption)", lambda: api.apply(dsn))
    remaining = timed("plan chunks", lambda: api.backfill_plan(dsn))
    result = timed("backfill", lambda: api.backfill(dsn, jobs=jobs))
    report = timed("verify", lambda: api.verify(dsn))
    with psycopg.connect(dsn) as conn:
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('content_tags'))"
        ).fetchone()[0]
    data = "reused data" if reuse else f"scale {scale}"
    click.echo(
        f"{data}: {sum(remaining.values()):,} items, {result.links:,} links, "
        f"backfill {result.seconds:.1f}s = {result.links / result.seconds:,.0f} links/s "
        f"with {jobs} jobs; content_tags {size}; verify {'OK' if report.ok else 'MISMATCH'}"
    )


@main.command("demo")
@click.option("--scale", default=0.01, show_default=True, type=float)
def demo_command(scale: float) -> None:
    """A reference-layout database (`gallery_demo` on the local server), adopted,
    backfilled and counted, then two gallery pages."""
    server_dsn = resolve_dsn(None)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS gallery_demo WITH (FORCE)")
        conn.execute("CREATE DATABASE gallery_demo")
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname="gallery_demo")
    with psycopg.connect(dsn) as conn:
        create_reference_database(conn, scale=scale)
    click.echo(f"reference data at scale {scale} in database gallery_demo")
    applied = api.apply(dsn)
    click.echo(
        f"pydeploy apply: {len(applied.applied_migrations)} migrations, "
        f"{len(applied.function_actions)} functions"
    )
    api.backfill_plan(dsn)
    result = api.backfill(dsn)
    click.echo(f"pydeploy backfill: {result.links:,} tag links")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT gallery_stats_refresh()")
        tags = [r[0] for r in conn.execute("SELECT id FROM tags ORDER BY name LIMIT 2")]
        query = (
            "SELECT id, source_type, created_at, creator_id, title, row_cursor"
            "  FROM gallery_page(tags => %s::uuid[], cursor => %s, page_size => 5,"
            "                    sources => '{community-regular,community-auto}')"
        )
        cursor = None
        for number in (1, 2):
            rows = conn.execute(query, (tags, cursor)).fetchall()
            click.echo(f"\ngallery_page(tags => <tag1, tag2>, page_size => 5), page {number}:")
            for item_id, source, created_at, creator, title, _ in rows:
                click.echo(
                    f"  {item_id:>8}  {source:5}  {created_at:%Y-%m-%d %H:%M:%S}  "
                    f"creator {creator:>3}  {title}"
                )
            cursor = rows[-1][-1]
        plan = conn.execute(
            "SELECT strategy, reason FROM gallery_plan(%s::uuid[],"
            " sources => '{community-regular,community-auto}')",
            (tags,),
        ).fetchone()
        click.echo(f"\nstrategy: {plan[0]} ({plan[1]})")
    click.echo(f'\ntry it: psql "{dsn}"')


RARE_TAGS = {"bench-rare-50": 50, "bench-rare-500": 500, "bench-rare-5000": 5000}

STRATEGIES = {
    "all": ["order_first", "self_join", "group_having", "two_phase"],
    "any": ["order_first", "tag_union"],
}


TIMEOUT_MS = 10_000


def _server_ms(conn: psycopg.Connection, query: str, params: dict[str, object]) -> float:
    """Execution time of one query as the server measured it (EXPLAIN ANALYZE);
    infinity past TIMEOUT_MS."""
    try:
        plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", params).fetchone()[0]
    except psycopg.errors.QueryCanceled:
        return float("inf")
    return float(plan[0]["Execution Time"])


def _cell(ms: float) -> str:
    return f"> {TIMEOUT_MS:,}" if ms == float("inf") else f"{ms:.2f}"


@main.command("strategies")
@click.option(
    "--dsn", help="A database with the package applied and data (default: bench_reference)."
)
@click.option("--runs", default=7, show_default=True, help="Warm runs per measurement.")
def strategies_command(dsn: str | None, runs: int) -> None:
    """Median server time of every strategy, forced, and of the planner's choice, for a
    popular tag, rare tags and K = 5; adds three rare tags (50, 500, 5,000 items) first."""
    dsn = dsn or psycopg.conninfo.make_conninfo(resolve_dsn(None), dbname="bench_reference")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {TIMEOUT_MS}")
        for name, count in RARE_TAGS.items():
            if conn.execute("SELECT 1 FROM tags WHERE name = %s", (name,)).fetchone():
                continue
            tag = conn.execute(
                "INSERT INTO tags (id, name) VALUES (md5(%s)::uuid, %s) RETURNING id", (name, name)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO content_tags SELECT id, source_type, %s FROM content_items_all"
                " ORDER BY hashint8(id) LIMIT %s",
                (tag, count),
            )
        conn.execute("SET statement_timeout = 0")
        conn.execute("SELECT gallery_stats_refresh()")
        conn.execute("ANALYZE content_tags")
        conn.execute(f"SET statement_timeout = {TIMEOUT_MS}")
        by_name = dict(conn.execute("SELECT name, id FROM tags").fetchall())
        popular = [
            r[0]
            for r in conn.execute("SELECT tag_id FROM popular_tags(5) ORDER BY item_count DESC")
        ]
        classes = {
            "1 popular tag": ([popular[0]], "all"),
            "1 rare tag (500 items)": ([by_name["bench-rare-500"]], "all"),
            "popular + rare (50)": ([popular[0], by_name["bench-rare-50"]], "all"),
            "K = 5 popular": (popular[:5], "all"),
            "K = 5, one rare (5,000)": ([*popular[:4], by_name["bench-rare-5000"]], "all"),
            "ANY of 3 rare": ([by_name[n] for n in RARE_TAGS], "any"),
        }
        query = (
            "SELECT * FROM gallery_page(tags => %(tags)s::uuid[], match => %(match)s,"
            " sources => '{community-regular,community-auto}', strategy => %(strategy)s)"
        )
        click.echo(
            "| class | planner's pick | "
            + " | ".join(sorted({s for v in STRATEGIES.values() for s in v}))
            + " |"
        )
        columns = sorted({s for v in STRATEGIES.values() for s in v})
        click.echo("|---" * (len(columns) + 2) + "|")
        for label, (tags, match) in classes.items():
            cells = {}
            for strategy in [None, *STRATEGIES[match]]:
                params = {"tags": [str(t) for t in tags], "match": match, "strategy": strategy}
                _server_ms(conn, query, params)  # warm-up, not counted
                times = sorted(_server_ms(conn, query, params) for _ in range(runs))
                cells[strategy] = times[len(times) // 2]
            pick = conn.execute(
                "SELECT strategy FROM gallery_plan(%s::uuid[], %s,"
                " '{community-regular,community-auto}')",
                ([str(t) for t in tags], match),
            ).fetchone()[0]
            row = [f"{pick} {_cell(cells[None])}"] + [
                _cell(cells[s]) if s in cells else "-" for s in columns
            ]
            click.echo(f"| {label} | " + " | ".join(row) + " |")
