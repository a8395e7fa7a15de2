"""The library behind every ``pydeploy`` command; tests and scripts call it directly.

Each verb takes ``dsn`` (None: resolved as described in :mod:`pydeploy.db`)
and ``sql_dir`` (None: the SQL shipped with this package). Results are
dataclasses; failures are :class:`pydeploy.errors.PydeployError` with a
one-line message, a hint and the CLI's exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from pydeploy import deploy, legacy, schedule
from pydeploy import lint as lint_rules
from pydeploy.db import connect
from pydeploy.deploy import ApplyResult, DataLoss, RollbackResult, Status, StepCallback
from pydeploy.errors import PydeployError, UsageError, from_psycopg
from pydeploy.health import HealthProblem
from pydeploy.lint import Baseline, Finding
from pydeploy.privileges import DEFAULT_ROLES, Roles
from pydeploy.schedule import ScheduledJob
from pydeploy.server import LocalServer, StartResult, default_home
from pydeploy.sources import check_sql_dir, default_sql_dir

__all__ = [
    "ApplyResult",
    "DataLoss",
    "Finding",
    "HealthProblem",
    "RollbackResult",
    "ScheduledJob",
    "ServerStatus",
    "StartResult",
    "StatsRefreshResult",
    "Status",
    "TelemetryRow",
    "apply",
    "backfill",
    "backfill_plan",
    "health",
    "lint",
    "lint_deep",
    "local_server",
    "rollback",
    "schedule_install",
    "schedule_list",
    "schedule_remove",
    "server_start",
    "server_status",
    "server_stop",
    "stats_refresh",
    "status",
    "telemetry",
    "verify",
]


def _sql_dir(sql_dir: Path | None) -> Path:
    return sql_dir if sql_dir is not None else default_sql_dir()


def apply(
    dsn: str | None = None,
    sql_dir: Path | None = None,
    *,
    dry_run: bool = False,
    allowed_drops: Collection[str] | None = None,
    on_step: StepCallback | None = None,
    roles: Roles = DEFAULT_ROLES,
) -> ApplyResult:
    """Run pending migrations, deploy changed functions and put the reader and admin
    roles' grants in place, atomically.

    ``allowed_drops``: the function files whose functions may be dropped (None: any, but
    never every deployed function at once). ``on_step(what, done, total)`` reports progress.
    ``roles``: the names of the reader and admin roles (created when missing).
    """
    return deploy.apply(
        dsn,
        _sql_dir(sql_dir),
        dry_run=dry_run,
        allowed_drops=allowed_drops,
        on_step=on_step,
        roles=roles,
    )


def rollback(
    dsn: str | None = None,
    sql_dir: Path | None = None,
    *,
    to: str | None = None,
    dry_run: bool = False,
    expected: list[str] | None = None,
) -> RollbackResult:
    """Roll back the last applied migration (``to``: all applied after that one), then
    redeploy functions to match. ``dry_run``: the plan, its SQL and the data it destroys.
    ``expected``: refuse unless exactly these migrations would be rolled back."""
    return deploy.rollback(dsn, _sql_dir(sql_dir), to=to, dry_run=dry_run, expected=expected)


def status(dsn: str | None = None, sql_dir: Path | None = None) -> Status:
    """Applied and pending migrations, deployed functions and drift (and health, apart)."""
    return deploy.status(dsn, _sql_dir(sql_dir))


def health(dsn: str | None = None) -> list[HealthProblem]:
    """Operational problems: missing or stale tag statistics, failed pg_cron jobs."""
    return deploy.health_problems(dsn)


def lint(
    paths: list[Path] | None = None,
    *,
    rules: Collection[str] | None = None,
    exclude_rules: Collection[str] = (),
) -> list[Finding]:
    """Policy findings for SQL files (default: all of the package's SQL)."""
    findings = lint_rules.lint_paths(paths or [default_sql_dir()])
    return lint_rules.select(findings, rules, exclude_rules)


def lint_deep(
    dsn: str | None = None,
    sql_dir: Path | None = None,
    *,
    rules: Collection[str] | None = None,
    exclude_rules: Collection[str] = (),
) -> list[Finding]:
    """plpgsql_check findings for the deployed PL/pgSQL functions, and for the functions
    the migrations create (trigger functions against each table that uses them)."""
    directory = _sql_dir(sql_dir)
    check_sql_dir(directory)
    try:
        with connect(dsn) as conn:
            findings = lint_rules.deep_check(conn, directory)
    except psycopg.Error as e:
        raise from_psycopg(e, "lint --deep") from e
    return lint_rules.select(findings, rules, exclude_rules)


def load_baseline(path: Path) -> Baseline:
    """Known findings to tolerate (``lint --baseline``)."""
    return Baseline.load(path)


def backfill_plan(
    dsn: str | None = None, *, chunk_items: int = 5000, restart: bool = False
) -> dict[str, int]:
    """Cut the legacy items into chunks (first run, or restart); items left per source."""
    try:
        return legacy.plan_chunks(dsn, chunk_items=chunk_items, restart=restart)
    except psycopg.Error as e:
        raise from_psycopg(e, "backfill") from e


def backfill(
    dsn: str | None = None,
    *,
    jobs: int = 2,
    on_batch: Callable[[legacy.BackfillBatch], None] | None = None,
) -> legacy.BackfillResult:
    """Copy legacy tag arrays into content_tags; resumable, safe under concurrent writes."""
    try:
        return legacy.backfill(dsn, jobs=jobs, on_batch=on_batch)
    except psycopg.Error as e:
        raise from_psycopg(e, "backfill") from e


def verify(dsn: str | None = None, *, sample: int = 1000) -> legacy.VerifyReport:
    """Compare legacy tag arrays with content_tags."""
    if sample < 0:
        raise UsageError(f"--sample must be 0 or more, got {sample}", "--sample 1000, say")
    try:
        return legacy.verify(dsn, sample=sample)
    except psycopg.Error as e:
        raise from_psycopg(e, "verify") from e


def schedule_install(
    dsn: str | None = None, refresh_schedule: str = schedule.DEFAULT_REFRESH_SCHEDULE
) -> list[schedule.Job]:
    """Schedule the package's periodic jobs with pg_cron (idempotent)."""
    try:
        return schedule.install(dsn, refresh_schedule)
    except psycopg.Error as e:
        raise from_psycopg(e, "schedule") from e


def schedule_list(dsn: str | None = None) -> list[ScheduledJob]:
    """The package's pg_cron jobs for this database, with their last run."""
    try:
        return schedule.installed(dsn)
    except psycopg.Error as e:
        raise from_psycopg(e, "schedule --list") from e


def schedule_remove(dsn: str | None = None) -> list[str]:
    """Unschedule the package's pg_cron jobs for this database."""
    try:
        return schedule.remove(dsn)
    except psycopg.Error as e:
        raise from_psycopg(e, "schedule --remove") from e


@dataclass(frozen=True)
class TelemetryRow:
    """One line of gallery_telemetry_summary (milliseconds)."""

    strategy: str
    k: int
    calls: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    last_call: datetime | None


def _require_deployed(conn: psycopg.Connection, relation: str, doing: str) -> None:
    row = conn.execute("SELECT to_regclass(%s)", (relation,)).fetchone()
    if row is None or row[0] is None:
        raise PydeployError(
            f"{doing}: this database has no {relation}: the gallery is not deployed here",
            "run `pydeploy apply` first (or check --dsn)",
        )


def telemetry(dsn: str | None = None) -> list[TelemetryRow]:
    """gallery_telemetry_summary: calls, p50, p95, max per strategy and K."""
    try:
        with connect(dsn) as conn:
            _require_deployed(conn, "gallery_telemetry_summary", "telemetry")
            rows = conn.execute(
                "SELECT strategy, k, calls, round(p50_ms::numeric, 3)::float8,"
                "       round(p95_ms::numeric, 3)::float8, round(max_ms::numeric, 3)::float8,"
                "       last_call FROM gallery_telemetry_summary ORDER BY strategy, k"
            ).fetchall()
    except psycopg.Error as e:
        raise from_psycopg(e, "telemetry") from e
    return [TelemetryRow(*row) for row in rows]


@dataclass(frozen=True)
class StatsRefreshResult:
    """What gallery_stats_refresh() did; refreshed is False when another refresh ran."""

    refreshed: bool
    tag_rows: int
    links: int
    seconds: float


def stats_refresh(dsn: str | None = None) -> StatsRefreshResult:
    """Recount tag_cardinality_stats now (gallery_stats_refresh())."""
    try:
        with connect(dsn) as conn:
            _require_deployed(conn, "tag_cardinality_stats", "stats refresh")
            row = conn.execute(
                "SELECT refreshed, tag_rows, coalesce(links, 0), seconds"
                "  FROM gallery.gallery_stats_refresh()"
            ).fetchone()
            conn.commit()
    except psycopg.Error as e:
        raise from_psycopg(e, "stats refresh") from e
    if row is None:  # the function always returns one row; be safe
        return StatsRefreshResult(False, 0, 0, 0.0)
    refreshed, tag_rows, links, seconds = row
    return StatsRefreshResult(bool(refreshed), int(tag_rows), int(links), float(seconds))


# -- the local server ----------------------------------------------------------------


@dataclass(frozen=True)
class ServerStatus:
    """The local server: running or not, where, and how to reach it."""

    running: bool
    initialized: bool
    home: str
    data_dir: str | None
    relocated: bool
    port: int | None
    url: str | None


def local_server(home: Path | None = None) -> LocalServer:
    """The private cluster of ``pydeploy server`` (default: ./.pgdata or PYDEPLOY_HOME)."""
    return LocalServer(home or default_home())


def server_start(home: Path | None = None) -> StartResult:
    """Create (the first time) and start the local server; idempotent."""
    return local_server(home).start_with_details()


def server_stop(home: Path | None = None) -> bool:
    """Stop the local server; False when it was not running."""
    return local_server(home).stop()


def server_status(home: Path | None = None) -> ServerStatus:
    s = local_server(home)
    initialized = s.initialized
    return ServerStatus(
        running=s.is_running(),
        initialized=initialized,
        home=str(s.home),
        data_dir=str(s.data_dir) if initialized else None,
        relocated=s.relocated,
        port=s.port if initialized else None,
        url=s.url() if initialized else None,
    )


def server_destroy(home: Path | None = None) -> str:
    """Stop the local server and delete its cluster; returns where the data was."""
    s = local_server(home)
    where = str(s.root)
    s.destroy()
    return where
