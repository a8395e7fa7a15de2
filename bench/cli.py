"""Benchmarks of the gallery package. Each command prints what it measured and
how; nothing here runs in the test suite except a small-scale smoke run."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import psycopg
import psycopg.sql
from rich.progress import Progress

from bench import cache as bench_cache
from bench import counts as bench_counts
from bench import loadtest
from bench import run as bench_run
from bench import telemetry as bench_telemetry
from bench.generate import DATASETS, check_request, generate
from bench.reference import create_reference_database
from pydeploy import api
from pydeploy.db import resolve_dsn
from pydeploy.errors import PydeployError

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
    """pydeploy apply, then fill the database with a dataset, server side (askubuntu:
    real data read from ../shared/data/askubuntu; --scale 1 is all of it)."""
    try:
        check_request(dataset, scale)
    except (ValueError, PydeployError) as exc:
        raise click.ClickException(str(exc)) from exc
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
        dsn = (
            psycopg.conninfo.make_conninfo(resolve_dsn(None), dbname=database)
            if reuse
            else _fresh_database(database)
        )
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
    dsn = _fresh_database("gallery_demo")
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
        conn.execute("SELECT gallery.gallery_stats_refresh()")
        tags = [r[0] for r in conn.execute("SELECT id FROM tags ORDER BY name LIMIT 2")]
        cursor = None
        for number in (1, 2):
            # a call a reader can paste into psql: the default sources are the public ones
            call = (
                "SELECT id, source_type, created_at, creator_id, title, row_cursor"
                f" FROM gallery.gallery_page(ARRAY['{tags[0]}', '{tags[1]}']::uuid[],"
                f" {'NULL' if cursor is None else repr(cursor)}, 5);"
            )
            rows = conn.execute(call).fetchall()
            click.echo(f"\npage {number}: {call}")
            for item_id, source, created_at, creator, title, _ in rows:
                click.echo(
                    f"  {item_id:>8}  {source:5}  {created_at:%Y-%m-%d %H:%M:%S}  "
                    f"creator {creator:>3}  {title}"
                )
            cursor = rows[-1][-1]
        plan = conn.execute(
            "SELECT strategy, reason FROM gallery.gallery_plan(%s::uuid[])",
            (tags,),
        ).fetchone()
        click.echo(f"\nstrategy: {plan[0]} ({plan[1]})")
    click.echo(f'\ntry it: psql "{dsn}"')


@main.command("run")
@click.option(
    "--dsn", help="A database with the package applied and data (default: bench_reference)."
)
@click.option("--dataset-label", help="Name of the outputs (default: the database's name).")
@click.option("--runs", default=15, show_default=True, help="Timed runs per measurement.")
@click.option(
    "--out",
    default=Path("bench/results"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--rebuild-baselines", is_flag=True, help="Rebuild bench_gin and bench_rum.")
@click.option("--seed", default=1, show_default=True, help="Picks the viewer and the K tags.")
def run_command(
    dsn: str | None,
    dataset_label: str | None,
    runs: int,
    out: Path,
    rebuild_baselines: bool,
    seed: int,
) -> None:
    """Every query class through gallery_page (planner's pick and each strategy forced)
    and the four baselines, with result equality checked; writes <out>/<label>.json,
    .md and .png and prints the markdown. Exit 1 when a page differed or a query failed."""
    dsn = dsn or psycopg.conninfo.make_conninfo(resolve_dsn(None), dbname="bench_reference")
    label = dataset_label or psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "bench"
    report = bench_run.run(
        dsn,
        label=str(label),
        runs=runs,
        seed=seed,
        rebuild_baselines=rebuild_baselines,
        command=shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
    )
    paths = bench_run.write_outputs(report, out)
    click.echo(paths["md"].read_text())
    click.echo("written: " + ", ".join(str(p) for p in paths.values()), err=True)
    for problem in [*report.mismatches, *report.errors]:
        click.echo(f"FAILED: {problem}", err=True)
    if report.mismatches or report.errors:
        raise SystemExit(1)


@main.command("count")
@click.option("--dsn", help="A database with the package applied and data (default: bench_zipf).")
@click.option("--dataset-label", help="Name of the outputs (default: the database's name).")
@click.option("--seed", default=1, show_default=True, help="Picks the tags and viewers.")
@click.option(
    "--runs", default=bench_counts.RUNS, show_default=True, help="Timed runs per measurement."
)
@click.option(
    "--out",
    default=Path("bench/results"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
def count_command(
    dsn: str | None, dataset_label: str | None, seed: int, runs: int, out: Path
) -> None:
    """gallery_count's estimate against the exact count and against independence, per
    query class: error, whether the stated interval held, server time; and the server
    time of a gallery screen's other calls for the same filters (first page, has_more's
    cost, exact count capped at 10,000, related_tags); writes
    <out>/count-<label>.json and .md and prints the markdown. Refresh the statistics
    first (SELECT gallery.gallery_stats_refresh())."""
    dsn = dsn or psycopg.conninfo.make_conninfo(resolve_dsn(None), dbname="bench_zipf")
    label = dataset_label or psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "bench"
    report = bench_counts.run(
        dsn,
        label=str(label),
        seed=seed,
        command=shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        runs=runs,
    )
    paths = bench_counts.write_outputs(report, out)
    click.echo(paths["md"].read_text())
    click.echo("written: " + ", ".join(str(p) for p in paths.values()), err=True)


@main.command("telemetry")
@click.option("--dsn", help="A database with the package applied and data (default: bench_zipf).")
@click.option("--rounds", default=5, show_default=True, help="Turns of the three variants.")
@click.option("--calls", default=200, show_default=True, help="Timed calls per variant a turn.")
def telemetry_command(dsn: str | None, rounds: int, calls: int) -> None:
    """What a sampled call's telemetry row costs the caller, commit included: sample rate
    0, every call sampled into the unlogged table, and into the table made LOGGED (the
    previous release's); client ms per call, in turns. Prints a markdown table."""
    dsn = dsn or psycopg.conninfo.make_conninfo(resolve_dsn(None), dbname="bench_zipf")
    result = bench_telemetry.run(dsn, rounds=rounds, calls=calls)
    click.echo(
        bench_telemetry.markdown(result, shlex.join(["python", "-m", "bench", *sys.argv[1:]]))
    )


@main.command("cache")
@click.option("--dsn", help="A database with the package applied and data (default: bench_zipf).")
@click.option("--dataset-label", help="Name of the outputs (default: the database's name).")
@click.option("--seed", default=1, show_default=True, help="Picks the classes and filters.")
@click.option(
    "--seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(4),
    help="Length of the concurrent-writer and mixed runs, each, split between with and without.",
)
@click.option(
    "--out",
    default=Path("bench/results"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
def cache_command(
    dsn: str | None, dataset_label: str | None, seed: int, seconds: float, out: Path
) -> None:
    """The page cache against the uncached page, side by side: first pages (uncached, miss,
    hit), the write triggers' cost (one insert; concurrent writers), a zipf mix of filters
    under writes; writes <out>/cache-<label>.json and .md and prints the markdown. Leaves
    the cache off and empty."""
    dsn = dsn or psycopg.conninfo.make_conninfo(resolve_dsn(None), dbname="bench_zipf")
    label = dataset_label or psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "bench"
    report = bench_cache.run(
        dsn,
        label=str(label),
        seed=seed,
        command=shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        seconds=seconds,
    )
    paths = bench_cache.write_outputs(report, out)
    click.echo(paths["md"].read_text())
    click.echo("written: " + ", ".join(str(p) for p in paths.values()), err=True)


@main.command("loadtest")
@click.option(
    "--dsn", required=True, help="A local database with the package and data (written to)."
)
@click.option("--clients", default=16, show_default=True, type=click.IntRange(1, 64))
@click.option("--writers", default=2, show_default=True, type=click.IntRange(0, 16))
@click.option("--seconds", default=300.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--slice-seconds", default=30.0, show_default=True, type=click.FloatRange(1))
@click.option("--stats-every", default=30.0, show_default=True, type=click.FloatRange(0.5))
@click.option("--no-baseline", is_flag=True, help="gallery_page only, no GIN baseline.")
@click.option("--seed", default=1, show_default=True)
@click.option("--label", help="Name of the outputs (default: loadtest-<database>).")
@click.option(
    "--out",
    default=Path("bench/results"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
def loadtest_command(
    dsn: str,
    clients: int,
    writers: int,
    seconds: float,
    slice_seconds: float,
    stats_every: float,
    no_baseline: bool,
    seed: int,
    label: str | None,
    out: Path,
) -> None:
    """Readers walk gallery pages (and the GIN baseline's, alternating) while writers
    insert, delete, re-tag and flip privacy, stats refresh and a redeploy run; every
    page checked. Writes <out>/<label>.json and .md; exit 1 when a check failed."""
    config = loadtest.LoadConfig(
        clients=clients,
        writers=writers,
        seconds=seconds,
        slice_seconds=slice_seconds,
        stats_every=stats_every,
        baseline=not no_baseline,
        seed=seed,
    )
    database = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "gallery"
    report = loadtest.run(
        dsn,
        config,
        label=label or f"loadtest-{database}",
        command=shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        log=lambda message: click.echo(message, err=True),
    )
    paths = loadtest.write_outputs(report, out)
    click.echo(paths["md"].read_text())
    click.echo("written: " + ", ".join(str(p) for p in paths.values()), err=True)
    for failure in report.failures:
        click.echo(f"FAILED: {failure}", err=True)
    if report.failures:
        raise SystemExit(1)
