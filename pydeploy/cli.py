"""``pydeploy``: each command is a thin wrapper over :mod:`pydeploy.api`.

Exit codes: 0 ok; 1 findings, drift, pending work, or a failed deploy (the
database is left unchanged); 2 usage or connection error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from pydeploy import api
from pydeploy.deploy import FunctionState
from pydeploy.errors import DeployError, PydeployError
from pydeploy.lint import RULES

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
    """Migrations and functions: applied, pending, drifted. Exit 1 unless in sync."""
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
        click.echo("functions: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for f in st.functions:
            if f.state != "ok":
                click.echo(f"  {f.state:9} {f.signature}")
        click.echo("in sync" if st.in_sync else "NOT in sync: run `pydeploy apply`")
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
