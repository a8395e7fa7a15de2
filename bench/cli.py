"""Benchmarks of the gallery package. Each command prints what it measured and
how; nothing here runs in the test suite except a small-scale smoke run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import click
import psycopg

from bench.reference import create_reference_database
from pydeploy import api
from pydeploy.db import resolve_dsn

T = TypeVar("T")


@click.group()
def main() -> None:
    """Generate data and measure the gallery package."""


@main.command("backfill")
@click.option("--dsn", help="An empty database (default: the local server's `bench_reference`).")
@click.option("--scale", default=1.0, show_default=True, type=float)
@click.option("--seed", default=1, show_default=True)
@click.option("--jobs", default=2, show_default=True)
@click.option("--reuse", is_flag=True, help="Keep the adopted database; redo only the backfill.")
def backfill_command(dsn: str | None, scale: float, seed: int, jobs: int, reuse: bool) -> None:
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
                conn.execute("DROP DATABASE IF EXISTS bench_reference")
                conn.execute("CREATE DATABASE bench_reference")
        dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname="bench_reference")
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
    click.echo(
        f"scale {scale}: {sum(remaining.values()):,} items, {result.links:,} links, "
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
