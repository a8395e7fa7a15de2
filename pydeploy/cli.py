"""``pydeploy``: each command is a thin wrapper over :mod:`pydeploy.api`.

Exit codes: 0 ok; 1 findings, drift, pending work, a refused, cancelled or failed
change (the database is left unchanged); 2 usage or connection error; 3 an
internal error (a bug; ``PYDEPLOY_DEBUG=1`` shows the traceback); 130 interrupted.
Every error is one line on stderr, with a ``HINT:`` line where one helps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import click
import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pydeploy import api
from pydeploy.deploy import DISTRIBUTION, FunctionState, StepCallback
from pydeploy.errors import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    Cancelled,
    DeployError,
    PydeployError,
    Refused,
    from_psycopg,
    one_line,
)
from pydeploy.legacy import BackfillBatch
from pydeploy.lint import RULES, Baseline
from pydeploy.postings import CompletionFailed
from pydeploy.privileges import Roles
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
    help="json: one JSON document on stdout (shapes in docs/pydeploy.md).",
)
yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do it without asking (needed when not on a terminal)."
)


def stdin_is_terminal() -> bool:
    """Whether a question can be asked (tests replace this)."""
    return sys.stdin.isatty()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_default))


def _error(message: str) -> None:
    click.secho(message, fg="red", err=True)


def _report(e: PydeployError, prefix: str = "error") -> None:
    _error(f"{prefix}: {one_line(e.message)}")
    if e.hint:
        click.echo(f"HINT: {one_line(e.hint)}", err=True)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every failure becomes one line on stderr (+ HINT) and its exit code: a
    PydeployError as it is, a database error through errors.from_psycopg, anything
    else as an internal error without a traceback (PYDEPLOY_DEBUG=1 shows it)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = click.get_current_context().command_path.removeprefix("pydeploy ").strip()
        try:
            return command(*args, **kwargs)
        except PydeployError as e:
            if e.exit_code == 0:  # nothing to do, and that is fine
                click.echo(one_line(e.message))
            else:
                _report(e)
            sys.exit(e.exit_code)
        except psycopg.Error as e:
            error = from_psycopg(e, name)
            _report(error)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            _error("interrupted")
            sys.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:
            if os.environ.get("PYDEPLOY_DEBUG"):
                traceback.print_exc()
            _error(f"internal error in `pydeploy {name}`: {type(e).__name__}: {one_line(str(e))}")
            click.echo(
                "HINT: this is a bug in pydeploy; PYDEPLOY_DEBUG=1 prints the traceback to report",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper


def confirm(question: str, *, yes: bool, what: str) -> None:
    """Ask on a terminal; without one, refuse unless --yes was given."""
    if yes:
        return
    if not stdin_is_terminal():
        raise Refused(
            f"{what} needs a confirmation and there is no terminal to ask on: nothing was changed",
            "pass --yes to confirm (--dry-run shows what it would do)",
        )
    if not click.confirm(question, default=False, err=True):
        raise Cancelled(f"{what} cancelled: nothing was changed")


@contextmanager
def progress_bar(description: str) -> Iterator[StepCallback | None]:
    """A progress line on stderr when it is a terminal (None otherwise)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def update(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done, total=total)

        yield update


@contextmanager
def spinner(description: str) -> Iterator[None]:
    """A spinner with the elapsed time on stderr when it is a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        progress.add_task(description, total=None)
        yield


def _set_connect_timeout(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if value is not None:
        os.environ["PYDEPLOY_CONNECT_TIMEOUT"] = str(value)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION)
@click.option(
    "--connect-timeout",
    type=click.IntRange(min=1),
    expose_value=False,
    callback=_set_connect_timeout,
    is_eager=True,
    metavar="SECONDS",
    help="Give up connecting after this long (default 5; PYDEPLOY_CONNECT_TIMEOUT).",
)
def main() -> None:
    """Deploy, version, lint and test the gallery's PostgreSQL functions."""


def _print_function_actions(actions: list[FunctionState], dry_run: bool) -> None:
    verb = "would " if dry_run else ""
    for a in actions:
        click.echo(f"  {verb}{a.action} function {a.signature} ({a.state})")


# -- deploy ---------------------------------------------------------------------------


@main.command()
@dsn_option
@sql_dir_option
@click.option(
    "--dry-run", is_flag=True, help="Print what would change; change nothing. Exit 1 if any."
)
@click.option(
    "--reader-role",
    default=Roles.reader,
    show_default=True,
    help="Role that may call gallery_page and the facets (created NOLOGIN when missing).",
)
@click.option(
    "--admin-role",
    default=Roles.admin,
    show_default=True,
    help="Role that may also plan, explain, refresh statistics and change the knobs.",
)
@yes_option
@format_option
@reports_errors
def apply(
    dsn: str | None,
    sql_dir: Path | None,
    dry_run: bool,
    reader_role: str,
    admin_role: str,
    yes: bool,
    output_format: str,
) -> None:
    """Run pending migrations, then deploy new and changed functions and put the reader
    and admin roles' grants in place, in one transaction."""
    roles = Roles(reader_role, admin_role)
    plan = api.apply(dsn, sql_dir, dry_run=True, roles=roles)
    if dry_run:
        if output_format == "json":
            _echo_json(plan.as_dict())
        else:
            _print_apply(plan)
        sys.exit(EXIT_FINDINGS if plan.changed else 0)
    drops = plan.dropped_functions
    if drops:
        if not yes and stdin_is_terminal():
            for f in drops:
                click.echo(f"  will drop function {f.signature} (its file was removed)", err=True)
        confirm(f"Drop {len(drops)} function(s)?", yes=yes, what="dropping functions")
    try:
        with progress_bar("apply") as on_step:
            result = api.apply(
                dsn, sql_dir, allowed_drops=[f.file for f in drops], on_step=on_step, roles=roles
            )
    except DeployError as e:
        _report(e, "apply failed, nothing was changed")
        sys.exit(e.exit_code)
    except CompletionFailed as e:
        _report(e, "apply incomplete")
        sys.exit(e.exit_code)
    if output_format == "json":
        _echo_json(result.as_dict())
        return
    _print_apply(result)
    if result.changed:
        click.echo(
            f"Done in {result.seconds:.2f}s: {len(result.applied_migrations)} "
            f"migration(s), {len(result.function_actions)} function change(s)."
        )


def _print_apply(result: api.ApplyResult) -> None:
    if not result.changed:
        click.echo("Nothing to do: the database is up to date.")
        return
    would = "would " if result.dry_run else ""
    for step in result.adoption_steps:
        click.echo(f"  {would}prepare adoption: {step}")
    for m in result.applied_migrations:
        click.echo(f"  {'would apply' if result.dry_run else 'applied'} migration {m}")
    _print_function_actions(result.function_actions, result.dry_run)
    for step in result.online_steps:
        click.echo(f"  {would}then, online: {step}")
    if result.grants:
        click.echo(f"  {would}create the roles or put their grants back in place")


@main.command()
@dsn_option
@sql_dir_option
@format_option
@reports_errors
def status(dsn: str | None, sql_dir: Path | None, output_format: str) -> None:
    """Deploy state: migrations and functions (pending, edited, drift). Exit 1 unless in sync.

    Operational health (statistics, pg_cron jobs) and the page cache's counters are
    shown too but do not change the exit code: `pydeploy health` checks health."""
    st = api.status(dsn, sql_dir)
    if output_format == "json":
        _echo_json(st.as_dict())
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
        click.echo("in sync" if st.in_sync else "NOT in sync: see above")
        for problem in st.health:
            click.echo(f"health: {problem.check}: {problem.message}")
        if st.cache:
            click.echo(f"health: {st.cache}")
    sys.exit(0 if st.in_sync else EXIT_FINDINGS)


@main.command()
@dsn_option
@format_option
@reports_errors
def health(dsn: str | None, output_format: str) -> None:
    """Operational health: tag statistics present and fresh, pg_cron jobs' last runs.
    Exit 1 on any problem (deploy state is `pydeploy status`)."""
    problems = api.health(dsn)
    if output_format == "json":
        _echo_json({"healthy": not problems, "problems": problems})
    else:
        for p in problems:
            click.echo(f"{p.check}: {p.message}\n  {p.hint}")
        click.echo("healthy" if not problems else f"{len(problems)} problem(s)")
    sys.exit(EXIT_FINDINGS if problems else 0)


@main.command()
@dsn_option
@sql_dir_option
@click.option(
    "--to",
    "to",
    metavar="VERSION",
    help="Roll back every migration applied after VERSION (an id or its unique prefix, "
    "e.g. 0005); 0 rolls back all. Default: the last one only.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan, its SQL and the data it destroys.")
@yes_option
@format_option
@reports_errors
def rollback(
    dsn: str | None,
    sql_dir: Path | None,
    to: str | None,
    dry_run: bool,
    yes: bool,
    output_format: str,
) -> None:
    """Roll back the last applied migration (or back to --to) and redeploy functions.

    Destroys data: asks first on a terminal; elsewhere, refuses without --yes."""
    plan = api.rollback(dsn, sql_dir, to=to, dry_run=True)
    if not plan.rolled_back:
        if output_format == "json":
            _echo_json(plan.as_dict())
        else:
            click.echo("Nothing to roll back: no migration is applied here.")
        return
    if dry_run:
        if output_format == "json":
            _echo_json(plan.as_dict())
        else:
            _print_rollback_plan(plan, with_sql=True)
        return
    if not yes and stdin_is_terminal():
        _print_rollback_plan(plan, with_sql=False, err=True)
    confirm(
        f"Roll back {len(plan.rolled_back)} migration(s) and destroy the data above?",
        yes=yes,
        what="rollback",
    )
    try:
        result = api.rollback(dsn, sql_dir, to=to, expected=plan.rolled_back)
    except DeployError as e:
        _report(e, "rollback failed, nothing was changed")
        sys.exit(e.exit_code)
    if output_format == "json":
        _echo_json(result.as_dict())
        return
    for m in result.rolled_back:
        click.echo(f"  rolled back migration {m}")
    _print_function_actions(result.function_actions, dry_run=False)


def _print_rollback_plan(plan: api.RollbackResult, *, with_sql: bool, err: bool = False) -> None:
    def echo(line: str) -> None:
        click.echo(line, err=err)

    echo(f"would roll back {len(plan.rolled_back)} migration(s), newest first:")
    for m in plan.rolled_back:
        echo(f"  {m}")
        for loss in plan.data_loss:
            if loss.migration == m:
                echo(f"    DESTROYS {loss}")
        if with_sql:
            echo("    -- SQL:")
            for line in plan.sql.get(m, "").rstrip().splitlines():
                echo(f"    {line}")
    if not plan.data_loss:
        echo("  (no table, column or row is dropped by these scripts)")
    echo("then the functions are brought in line with the files")


# -- lint -----------------------------------------------------------------------------


def _codes(values: tuple[str, ...]) -> list[str]:
    return [c for v in values for c in v.split(",") if c.strip()]


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--deep", is_flag=True, help="Also run plpgsql_check on the deployed functions.")
@click.option("--explain", metavar="CODE", help="Explain one rule and exit.")
@click.option("--rules", multiple=True, metavar="CODES", help="Only these rules (comma-separated).")
@click.option(
    "--exclude-rules", multiple=True, metavar="CODES", help="Not these rules (comma-separated)."
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Known findings to tolerate (one per line); only new findings fail.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the current findings to this baseline file and exit 0.",
)
@dsn_option
@sql_dir_option
@format_option
@reports_errors
def lint(
    paths: tuple[Path, ...],
    deep: bool,
    explain: str | None,
    rules: tuple[str, ...],
    exclude_rules: tuple[str, ...],
    baseline: Path | None,
    write_baseline: Path | None,
    dsn: str | None,
    sql_dir: Path | None,
    output_format: str,
) -> None:
    """Check SQL files (default: the package's own) for policy violations. Exit 1 on findings.

    A finding is silenced by a reasoned comment on its line: `-- noqa: PD006 <why>`."""
    if explain:
        code = explain.upper()
        if code not in RULES:
            raise click.UsageError(f"unknown rule {explain}; rules: {', '.join(RULES)}")
        name, text = RULES[code]
        click.echo(f"{code} {name}\n\n{text}")
        return
    only = _codes(rules) or None
    excluded = _codes(exclude_rules)
    findings = api.lint(
        list(paths) or ([sql_dir] if sql_dir else None), rules=only, exclude_rules=excluded
    )
    if deep:
        findings += api.lint_deep(dsn, sql_dir, rules=only, exclude_rules=excluded)
    if write_baseline:
        write_baseline.write_text(
            "# pydeploy lint baseline: known findings, one per line\n" + Baseline.render(findings)
        )
        click.echo(f"wrote {len(findings)} finding(s) to {write_baseline}")
        return
    known: list[api.Finding] = []
    stale: list[str] = []
    if baseline:
        findings, known, stale = api.load_baseline(baseline).split(findings)
    if output_format == "json":
        _echo_json(
            {
                "findings": [f.as_dict() for f in findings],
                "known": [f.as_dict() for f in known],
                "stale_baseline_entries": stale,
            }
            if baseline
            else [f.as_dict() for f in findings]
        )
    else:
        for f in findings:
            click.echo(str(f))
        if known:
            click.echo(f"lint: {len(known)} known finding(s) of the baseline {baseline} tolerated")
        for entry in stale:
            click.echo(f"lint: baseline entry no longer found (remove it): {entry}")
        if not findings:
            click.echo("lint: no findings" + (" beyond the baseline" if baseline else ""))
    sys.exit(EXIT_FINDINGS if findings else 0)


# -- legacy data ----------------------------------------------------------------------


@main.command()
@dsn_option
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Items per chunk (one transaction each); used when the work is first listed.",
)
@click.option(
    "--jobs", default=2, show_default=True, type=click.IntRange(min=1), help="Parallel connections."
)
@click.option("--restart", is_flag=True, help="List the work anew and go over every item again.")
@format_option
@reports_errors
def backfill(
    dsn: str | None, batch_size: int, jobs: int, restart: bool, output_format: str
) -> None:
    """Copy legacy tag arrays into content_tags. Resumable: Ctrl-C and run again."""
    remaining = api.backfill_plan(dsn, chunk_items=batch_size, restart=restart)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("items, {task.fields[links]:,} links"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
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
    if output_format == "json":
        _echo_json(result)
        return
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
@click.option("--sample", default=1000, show_default=True, help="Items compared one by one (>= 0).")
@format_option
@reports_errors
def verify(dsn: str | None, sample: int, output_format: str) -> None:
    """Compare legacy tag arrays with content_tags. Exit 1 on any difference."""
    report = api.verify(dsn, sample=sample)
    if output_format == "json":
        _echo_json(dataclasses.asdict(report) | {"ok": report.ok})
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
    sys.exit(0 if report.ok else EXIT_FINDINGS)


# -- upkeep ---------------------------------------------------------------------------


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
@format_option
@reports_errors
def schedule_command(
    dsn: str | None, refresh_schedule: str, list_jobs: bool, remove: bool, output_format: str
) -> None:
    """Run the statistics refresh and cleanups periodically with pg_cron."""
    if list_jobs and remove:
        raise click.UsageError("--list and --remove exclude each other")
    as_json = output_format == "json"
    try:
        if list_jobs:
            rows = api.schedule_list(dsn)
            if as_json:
                _echo_json({"jobs": rows})
                return
            for r in rows:
                last = (
                    f"last run {r.last_run:%Y-%m-%d %H:%M} {r.last_status}"
                    if r.last_run
                    else "not run yet"
                )
                click.echo(f"{r.jobname:40} {r.schedule:14} {last}")
                if r.last_status == "failed":
                    _error(f"  {one_line(r.last_message or '')}")
            if not rows:
                click.echo("no gallery jobs scheduled: run `pydeploy schedule`")
        elif remove:
            names = api.schedule_remove(dsn)
            if as_json:
                _echo_json({"unscheduled": names})
                return
            click.echo(f"unscheduled: {', '.join(names) or 'nothing'}")
        else:
            jobs = api.schedule_install(dsn, refresh_schedule)
            if as_json:
                _echo_json({"scheduled": jobs})
                return
            for job in jobs:
                click.echo(f"scheduled {job.name:30} {job.schedule:14} {job.command}")
    except PgCronMissing as e:
        _report(e)
        click.echo(crontab_alternative(dsn, refresh_schedule), err=True)
        sys.exit(e.exit_code)


@main.command()
@dsn_option
@format_option
@reports_errors
def telemetry(dsn: str | None, output_format: str) -> None:
    """Sampled gallery_page calls: count, p50, p95, max per strategy and number of tags."""
    rows = api.telemetry(dsn)
    if output_format == "json":
        _echo_json(rows)
        return
    if not rows:
        click.echo("no telemetry yet: gallery_config.telemetry_sample_rate sets the share kept")
        return
    click.echo(f"{'strategy':14} {'K':>3} {'calls':>8} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for r in rows:
        click.echo(
            f"{r.strategy:14} {r.k:>3} {r.calls:>8} {r.p50_ms:>9} {r.p95_ms:>9} {r.max_ms:>9}"
        )


@main.group()
def stats() -> None:
    """Tag statistics (tag_cardinality_stats), the planner's input."""


@stats.command("refresh")
@dsn_option
@format_option
@reports_errors
def stats_refresh(dsn: str | None, output_format: str) -> None:
    """Recount tag_cardinality_stats from content_tags now."""
    with spinner("recounting tag statistics"):
        result = api.stats_refresh(dsn)
    if output_format == "json":
        _echo_json(result)
        return
    if not result.refreshed:
        click.echo("another refresh is running (or this is a standby): nothing done")
        return
    click.echo(
        f"refreshed {result.tag_rows} tag/source counts ({result.links:,} links) "
        f"in {result.seconds:.2f}s"
    )


# -- the local server -----------------------------------------------------------------


@main.group()
def server() -> None:
    """A private local PostgreSQL (./.pgdata, or PYDEPLOY_HOME) used when no DSN is given."""


@server.command("start")
@format_option
@reports_errors
def server_start(output_format: str) -> None:
    """Create (first time) and start the local server; idempotent."""
    result = api.server_start()
    if output_format == "json":
        _echo_json(result)
        return
    if result.moved_from_port is not None:
        _error(
            f"warning: port {result.moved_from_port} is taken by another program: "
            f"the local server now uses port {result.port}"
        )
    click.echo(f"{'started' if result.started else 'already running'}: {result.url}")
    if result.relocated and result.started:
        click.echo(
            f"(the postgres OS user cannot reach {Path(result.home).parent}: the cluster is in "
            f"{Path(result.data_dir).parent}, and {result.home} links to it)"
        )


@server.command("stop")
@format_option
@reports_errors
def server_stop(output_format: str) -> None:
    """Stop the local server; idempotent."""
    stopped = api.server_stop()
    if output_format == "json":
        _echo_json({"stopped": stopped})
        return
    click.echo("stopped" if stopped else "not running")


@server.command("status")
@format_option
@reports_errors
def server_status(output_format: str) -> None:
    """Exit 0 when the local server runs, 1 otherwise."""
    st = api.server_status()
    if output_format == "json":
        _echo_json(st)
    elif st.running:
        click.echo(f"running: {st.url} (data in {st.data_dir})")
    else:
        click.echo("not running" + ("" if st.initialized else f" (no cluster in {st.home} yet)"))
    sys.exit(0 if st.running else EXIT_FINDINGS)


@server.command("url")
@format_option
@reports_errors
def server_url(output_format: str) -> None:
    """Print the connection URL of the local server; exit 1 when it is not running."""
    st = api.server_status()
    if output_format == "json":
        _echo_json({"running": st.running, "url": st.url})
    elif st.running:
        click.echo(st.url)
    else:
        _error(
            "error: the local server is not running"
            + ("" if st.initialized else f" (no cluster in {st.home})")
        )
        click.echo("HINT: start it with `pydeploy server start`", err=True)
    sys.exit(0 if st.running else EXIT_FINDINGS)


@server.command("destroy")
@yes_option
@reports_errors
def server_destroy(yes: bool) -> None:
    """Stop the local server and delete its cluster and every database in it."""
    st = api.server_status()
    if not st.initialized and not Path(st.home).exists():
        click.echo(f"nothing to destroy: no cluster in {st.home}")
        return
    where = st.data_dir or st.home
    confirm(
        f"Delete the local cluster in {where} and every database in it?",
        yes=yes,
        what="server destroy",
    )
    click.echo(f"destroyed: {api.server_destroy()}")
