"""``pydeploy``: each command is a thin wrapper over :mod:`pydeploy.api`.

Exit codes: 0 ok; 1 findings, drift, pending work, or a failed deploy (the
database is left unchanged); 2 usage or connection error.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from pydeploy import api
from pydeploy.deploy import FunctionState
from pydeploy.errors import DeployError, PydeployError
from pydeploy.legacy import BackfillBatch
from pydeploy.lint import RULES
from pydeploy.schedule import DEFAULT_REFRESH_SCHEDULE, PgCronMissing, crontab_alternative

dsn_option = click.option(
    "--dsn",
    envvar="PYDEPLOY_DSN",
    help="libpq connection string or URL. Default: PYDEPLOY_DSN, DATABASE_URL, the PG* "
    "variables, then the local server of `pydeploy server start`.",
)
sql_dir_option = click.option(
    "--sql-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="SQL tree with functions/ and migrations/ (default: the one shipped with pydeploy).",
)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)


def _error(message: str) -> None:
    click.secho(message, fg="red", err=True)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn PydeployError into a red message on stderr and its exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PydeployError as e:
            if e.exit_code == 0:  # nothing to do, and that is fine
                click.echo(str(e))
            else:
                _error(f"error: {e}")
            sys.exit(e.exit_code)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pydeploy")
def main() -> None:
    """Deploy, version, lint and test the gallery's PostgreSQL functions."""


def _print_function_actions(actions: list[FunctionState], dry_run: bool) -> None:
    verb = "would " if dry_run else ""
    for a in actions:
        click.echo(f"  {verb}{a.action} function {a.signature} ({a.state})")


@main.command()
@dsn_option
@sql_dir_option
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@reports_errors
def apply(dsn: str | None, sql_dir: Path | None, dry_run: bool) -> None:
    """Run pending migrations, then deploy new and changed functions, in one transaction."""
    started = time.monotonic()
    try:
        result = api.apply(dsn, sql_dir, dry_run=dry_run)
    except DeployError as e:
        _error(f"apply failed, nothing was changed: {e}")
        sys.exit(e.exit_code)
    if not result.changed:
        click.echo("Nothing to do: the database is up to date.")
        return
    for step in result.adoption_steps:
        click.echo(f"  {'would ' if dry_run else ''}prepare adoption: {step}")
    prefix = "would apply" if dry_run else "applied"
    for m in result.applied_migrations:
        click.echo(f"  {prefix} migration {m}")
    _print_function_actions(result.function_actions, dry_run)
    if not dry_run:
        click.echo(
            f"Done in {time.monotonic() - started:.2f}s: {len(result.applied_migrations)} "
            f"migration(s), {len(result.function_actions)} function change(s)."
        )


@main.command()
@dsn_option
@sql_dir_option
@format_option
@reports_errors
def status(dsn: str | None, sql_dir: Path | None, output_format: str) -> None:
    """Migrations, functions (pending, drifted), statistics and jobs. Exit 1 unless all is well."""
    st = api.status(dsn, sql_dir)
    if output_format == "json":
        click.echo(json.dumps(st.as_dict(), indent=2))
    else:
        click.echo(
            f"migrations: {len(st.applied_migrations)} applied, "
            f"{len(st.pending_migrations)} pending"
        )
        for m in st.pending_migrations:
            click.echo(f"  pending   {m}")
        for m in st.edited_migrations:
            click.echo(f"  EDITED    {m} (file changed after it was applied)")
        for m in st.unknown_migrations:
            click.echo(f"  UNKNOWN   {m} (applied, but no file for it)")
        counts: dict[str, int] = {}
        for f in st.functions:
            counts[f.state] = counts.get(f.state, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        click.echo(f"functions: {summary or 'none'}")
        for f in st.functions:
            if f.state != "ok":
                click.echo(f"  {f.state:9} {f.signature}")
        for problem in st.health:
            click.echo(f"  HEALTH    {problem}")
        click.echo("in sync" if st.in_sync else "NOT in sync: see above")
    sys.exit(0 if st.in_sync else 1)


@main.command()
@dsn_option
@sql_dir_option
@reports_errors
def rollback(dsn: str | None, sql_dir: Path | None) -> None:
    """Roll back the last applied migration and redeploy functions to match."""
    try:
        result = api.rollback(dsn, sql_dir)
    except DeployError as e:
        _error(f"rollback failed, nothing was changed: {e}")
        sys.exit(e.exit_code)
    if result.rolled_back is None:
        click.echo("No migration to roll back.")
    else:
        click.echo(f"  rolled back migration {result.rolled_back}")
    _print_function_actions(result.function_actions, dry_run=False)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--deep", is_flag=True, help="Also run plpgsql_check on the deployed functions.")
@click.option("--explain", metavar="CODE", help="Explain one rule and exit.")
@dsn_option
@sql_dir_option
@format_option
@reports_errors
def lint(
    paths: tuple[Path, ...],
    deep: bool,
    explain: str | None,
    dsn: str | None,
    sql_dir: Path | None,
    output_format: str,
) -> None:
    """Check SQL files (default: the package's own) for policy violations. Exit 1 on findings."""
    if explain:
        code = explain.upper()
        if code not in RULES:
            raise click.UsageError(f"unknown rule {explain}; rules: {', '.join(RULES)}")
        name, text = RULES[code]
        click.echo(f"{code} {name}\n\n{text}")
        return
    findings = api.lint(list(paths) or ([sql_dir] if sql_dir else None))
    if deep:
        findings += api.lint_deep(dsn, sql_dir)
    if output_format == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for f in findings:
            click.echo(str(f))
        if not findings:
            click.echo("lint: no findings")
    sys.exit(1 if findings else 0)


@main.command()
@dsn_option
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    help="Items per chunk (one transaction each); used when the work is first listed.",
)
@click.option("--jobs", default=2, show_default=True, help="Parallel connections.")
@click.option("--restart", is_flag=True, help="List the work anew and go over every item again.")
@reports_errors
def backfill(dsn: str | None, batch_size: int, jobs: int, restart: bool) -> None:
    """Copy legacy tag arrays into content_tags. Resumable: Ctrl-C and run again."""
    remaining = api.backfill_plan(dsn, chunk_items=batch_size, restart=restart)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items, {task.fields[links]:,} links"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        tasks: dict[str, TaskID] = {}

        def on_batch(batch: BackfillBatch) -> None:
            if batch.source_type not in tasks:
                tasks[batch.source_type] = progress.add_task(
                    batch.source_type, total=remaining.get(batch.source_type), links=0
                )
            task = tasks[batch.source_type]
            links = progress.tasks[task].fields["links"] + batch.links
            progress.update(task, advance=batch.items, links=links)

        try:
            result = api.backfill(dsn, jobs=jobs, on_batch=on_batch)
        except KeyboardInterrupt:
            progress.stop()
            _error("interrupted: every finished chunk is saved; run `pydeploy backfill` to resume")
            sys.exit(130)
    rate = result.links / result.seconds if result.seconds else 0.0
    click.echo(
        f"backfill done: {result.items:,} items, {result.links:,} links in "
        f"{result.seconds:.1f}s ({rate:,.0f} links/s)"
    )
    if result.unknown_tags:
        _error(
            f"warning: {result.unknown_tags:,} array elements name no tag in `tags` and were "
            "skipped; `pydeploy verify` lists them"
        )


@main.command()
@dsn_option
@click.option("--sample", default=1000, show_default=True, help="Items compared one by one.")
@format_option
@reports_errors
def verify(dsn: str | None, sample: int, output_format: str) -> None:
    """Compare legacy tag arrays with content_tags. Exit 1 on any difference."""
    report = api.verify(dsn, sample=sample)
    if output_format == "json":
        click.echo(json.dumps(dataclasses.asdict(report) | {"ok": report.ok}, indent=2))
    else:
        for t in report.tags:
            note = "" if t.tag_exists else " (no such tag in `tags`)"
            click.echo(
                f"tag {t.tag_id} [{t.source_type}]: {t.items_with_tag_in_array} items in arrays, "
                f"{t.links} links{note}"
            )
        for i in report.items:
            click.echo(
                f"item {i.id} [{i.source_type}]: only in array {i.only_in_array}, "
                f"only in content_tags {i.only_in_links}"
            )
        click.echo(
            f"{'OK' if report.ok else 'MISMATCH'}: {len(report.tags)} tag counts and "
            f"{len(report.items)} of {report.sampled_items} sampled items differ"
        )
    sys.exit(0 if report.ok else 1)


@main.command("schedule")
@dsn_option
@click.option(
    "--every",
    "refresh_schedule",
    default=DEFAULT_REFRESH_SCHEDULE,
    show_default=True,
    help="cron schedule of the statistics refresh (pg_cron syntax, e.g. '*/5 * * * *').",
)
@click.option("--list", "list_jobs", is_flag=True, help="Show the jobs and their last run.")
@click.option("--remove", is_flag=True, help="Unschedule the jobs.")
@reports_errors
def schedule_command(dsn: str | None, refresh_schedule: str, list_jobs: bool, remove: bool) -> None:
    """Run the statistics refresh and cleanups periodically with pg_cron."""
    try:
        if list_jobs:
            rows = api.schedule_list(dsn)
            for r in rows:
                last = (
                    f"last run {r['last_run']:%Y-%m-%d %H:%M} {r['last_status']}"
                    if (r["last_run"])
                    else "not run yet"
                )
                click.echo(f"{r['jobname']:40} {r['schedule']:14} {last}")
                if r["last_status"] == "failed":
                    _error(f"  {r['last_message']}")
            if not rows:
                click.echo("no gallery jobs scheduled: run `pydeploy schedule`")
        elif remove:
            names = api.schedule_remove(dsn)
            click.echo(f"unscheduled: {', '.join(names) or 'nothing'}")
        else:
            for job in api.schedule_install(dsn, refresh_schedule):
                click.echo(f"scheduled {job.name:30} {job.schedule:14} {job.command}")
    except PgCronMissing as e:
        _error(f"error: {e.message}")
        click.echo(crontab_alternative(dsn, refresh_schedule))
        sys.exit(e.exit_code)


@main.command()
@dsn_option
@format_option
@reports_errors
def telemetry(dsn: str | None, output_format: str) -> None:
    """Sampled gallery_page calls: count, p50, p95, max per strategy and number of tags."""
    rows = api.telemetry(dsn)
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no telemetry yet: gallery_config.telemetry_sample_rate sets the share kept")
        return
    click.echo(f"{'strategy':14} {'K':>3} {'calls':>8} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for r in rows:
        click.echo(
            f"{r['strategy']:14} {r['k']:>3} {r['calls']:>8} {r['p50_ms']:>9} "
            f"{r['p95_ms']:>9} {r['max_ms']:>9}"
        )


@main.group()
def stats() -> None:
    """Tag statistics (tag_cardinality_stats), the planner's input."""


@stats.command("refresh")
@dsn_option
@reports_errors
def stats_refresh(dsn: str | None) -> None:
    """Recount tag_cardinality_stats from content_tags now."""
    row = api.stats_refresh(dsn)
    if not row["refreshed"]:
        click.echo("another refresh is running: nothing done")
        return
    click.echo(
        f"refreshed {row['tag_rows']} tag/source counts ({row['links']:,} links) "
        f"in {row['seconds']:.2f}s"
    )


@main.group()
def server() -> None:
    """A private local PostgreSQL (./.pgdata, or PYDEPLOY_HOME) used when no DSN is given."""


@server.command("start")
@reports_errors
def server_start() -> None:
    """Create (first time) and start the local server; idempotent."""
    s = api.local_server()
    started = s.start()
    click.echo(f"{'started' if started else 'already running'}: {s.url()}")


@server.command("stop")
@reports_errors
def server_stop() -> None:
    """Stop the local server; idempotent."""
    s = api.local_server()
    click.echo("stopped" if s.stop() else "not running")


@server.command("status")
@reports_errors
def server_status() -> None:
    """Exit 0 when the local server runs, 1 otherwise."""
    s = api.local_server()
    if s.is_running():
        click.echo(f"running: {s.url()} (data in {s.data_dir})")
        return
    click.echo("not running" + ("" if s.initialized else f" (no cluster in {s.home} yet)"))
    sys.exit(1)


@server.command("url")
@reports_errors
def server_url() -> None:
    """Print the connection URL of the local server."""
    click.echo(api.local_server().url())
