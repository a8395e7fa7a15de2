"""The library behind every ``pydeploy`` command; tests and scripts call it directly.

Each verb takes ``dsn`` (None: resolved as described in :mod:`pydeploy.db`)
and ``sql_dir`` (None: the SQL shipped with this package).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from psycopg.rows import dict_row

from pydeploy import deploy, legacy, schedule
from pydeploy import lint as lint_rules
from pydeploy.db import connect
from pydeploy.deploy import ApplyResult, RollbackResult, Status
from pydeploy.lint import Finding
from pydeploy.server import LocalServer, default_home
from pydeploy.sources import default_sql_dir

__all__ = [
    "ApplyResult",
    "Finding",
    "RollbackResult",
    "Status",
    "apply",
    "backfill",
    "backfill_plan",
    "lint",
    "lint_deep",
    "local_server",
    "rollback",
    "schedule_install",
    "schedule_list",
    "schedule_remove",
    "stats_refresh",
    "status",
    "telemetry",
    "verify",
]


def _sql_dir(sql_dir: Path | None) -> Path:
    return sql_dir if sql_dir is not None else default_sql_dir()


def apply(
    dsn: str | None = None, sql_dir: Path | None = None, *, dry_run: bool = False
) -> ApplyResult:
    """Run pending migrations and deploy changed functions, atomically."""
    return deploy.apply(dsn, _sql_dir(sql_dir), dry_run=dry_run)


def rollback(dsn: str | None = None, sql_dir: Path | None = None) -> RollbackResult:
    """Roll back the last applied migration and redeploy functions to match."""
    return deploy.rollback(dsn, _sql_dir(sql_dir))


def status(dsn: str | None = None, sql_dir: Path | None = None) -> Status:
    """Applied and pending migrations, deployed functions and drift."""
    return deploy.status(dsn, _sql_dir(sql_dir))


def lint(paths: list[Path] | None = None) -> list[Finding]:
    """Policy findings for SQL files (default: all of the package's SQL)."""
    return lint_rules.lint_paths(paths or [default_sql_dir()])


def lint_deep(dsn: str | None = None, sql_dir: Path | None = None) -> list[Finding]:
    """plpgsql_check findings for the deployed PL/pgSQL functions."""
    with connect(dsn) as conn:
        return lint_rules.deep_check(conn, _sql_dir(sql_dir))


def backfill_plan(
    dsn: str | None = None, *, chunk_items: int = 5000, restart: bool = False
) -> dict[str, int]:
    """Cut the legacy items into chunks (first run, or restart); items left per source."""
    return legacy.plan_chunks(dsn, chunk_items=chunk_items, restart=restart)


def backfill(
    dsn: str | None = None,
    *,
    jobs: int = 2,
    on_batch: Callable[[legacy.BackfillBatch], None] | None = None,
) -> legacy.BackfillResult:
    """Copy legacy tag arrays into content_tags; resumable, safe under concurrent writes."""
    return legacy.backfill(dsn, jobs=jobs, on_batch=on_batch)


def verify(dsn: str | None = None, *, sample: int = 1000) -> legacy.VerifyReport:
    """Compare legacy tag arrays with content_tags."""
    return legacy.verify(dsn, sample=sample)


def schedule_install(
    dsn: str | None = None, refresh_schedule: str = schedule.DEFAULT_REFRESH_SCHEDULE
) -> list[schedule.Job]:
    """Schedule the package's periodic jobs with pg_cron (idempotent)."""
    return schedule.install(dsn, refresh_schedule)


def schedule_list(dsn: str | None = None) -> list[dict[str, object]]:
    """The package's pg_cron jobs for this database, with their last run."""
    return schedule.installed(dsn)


def schedule_remove(dsn: str | None = None) -> list[str]:
    """Unschedule the package's pg_cron jobs for this database."""
    return schedule.remove(dsn)


def telemetry(dsn: str | None = None) -> list[dict[str, object]]:
    """gallery_telemetry_summary: calls, p50, p95, max per strategy and K."""
    with connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT strategy, k, calls, round(p50_ms::numeric, 3) AS p50_ms,"
            "       round(p95_ms::numeric, 3) AS p95_ms, round(max_ms::numeric, 3) AS max_ms,"
            "       last_call FROM gallery_telemetry_summary ORDER BY strategy, k"
        ).fetchall()


def stats_refresh(dsn: str | None = None) -> dict[str, object]:
    """Recount tag_cardinality_stats now (gallery_stats_refresh())."""
    with connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM gallery_stats_refresh()").fetchone()
        conn.commit()
        return row


def local_server(home: Path | None = None) -> LocalServer:
    """The private cluster of ``pydeploy server`` (default: ./.pgdata or PYDEPLOY_HOME)."""
    return LocalServer(home or default_home())
