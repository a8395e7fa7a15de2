"""Periodic jobs of the gallery, run by pg_cron inside PostgreSQL.

pg_cron keeps its jobs in the one database named by ``cron.database_name``;
jobs for another database are scheduled from there with
``cron.schedule_in_database``. Job names end with the target database
(``gallery-stats-refresh:gallery``), so several databases of one server keep
their own jobs, and pg_cron schedules by name: installing twice updates the
jobs instead of duplicating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from pydeploy.db import connect, connect_timeout, resolve_dsn
from pydeploy.errors import PydeployError

DEFAULT_REFRESH_SCHEDULE = "*/10 * * * *"


@dataclass(frozen=True)
class Job:
    name: str
    schedule: str
    command: str


def jobs(refresh_schedule: str = DEFAULT_REFRESH_SCHEDULE) -> list[Job]:
    """The package's periodic jobs."""
    return [
        Job("gallery-stats-refresh", refresh_schedule, "SELECT gallery.gallery_stats_refresh()"),
        Job("gallery-cache-warm", "* * * * *", "SELECT gallery.gallery_cache_warm()"),
        Job(
            "gallery-telemetry-cleanup",
            "17 3 * * *",
            "DELETE FROM gallery_telemetry WHERE called_at < now() - interval '30 days'",
        ),
        # pg_cron never cleans its own history (its README): keep a week
        Job(
            "gallery-cron-history-cleanup",
            "23 3 * * *",
            "DELETE FROM cron.job_run_details WHERE end_time < now() - interval '7 days'",
        ),
    ]


@dataclass(frozen=True)
class ScheduledJob:
    """A job pg_cron has for this database, with its last run (None: not run yet)."""

    jobname: str
    schedule: str
    command: str
    active: bool
    last_status: str | None
    last_message: str | None
    last_run: datetime | None


class PgCronMissing(PydeployError):
    """pg_cron cannot run jobs here; the message says what is missing."""


def crontab_alternative(dsn: str | None, refresh_schedule: str) -> str:
    target = f" --dsn '{dsn}'" if dsn else ""
    return (
        "without pg_cron, run the refresh from the system crontab instead:\n"
        f"  {refresh_schedule} pydeploy stats refresh{target}"
    )


def _cron_connection(conn: psycopg.Connection, dsn: str) -> tuple[psycopg.Connection, str, str]:
    """A connection to pg_cron's database, that database's name, and the target's name."""
    settings: dict[str, str] = dict(
        conn.execute(
            "SELECT name, setting FROM pg_settings"
            " WHERE name IN ('shared_preload_libraries', 'cron.database_name')"
        ).fetchall()
    )
    row = conn.execute("SELECT current_database()").fetchone()
    target = str(row[0]) if row else ""
    missing = []
    if "pg_cron" not in settings.get("shared_preload_libraries", ""):
        missing.append(
            "pg_cron is not preloaded: add shared_preload_libraries = 'pg_cron' and "
            f"cron.database_name = '{target}' to postgresql.conf, then restart the server"
        )
    if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'").fetchone():
        missing.append("pg_cron is not installed on the server (Debian: postgresql-15-cron)")
    if missing:
        raise PgCronMissing("; ".join(missing))
    cron_db = settings.get("cron.database_name", "postgres")
    if cron_db == target:
        return conn, cron_db, target
    params: dict[str, Any] = dict(conninfo_to_dict(dsn)) if dsn else {}
    params["dbname"] = cron_db
    params.setdefault("connect_timeout", connect_timeout())
    return psycopg.connect(make_conninfo("", **params), autocommit=True), cron_db, target


def install(dsn: str | None, refresh_schedule: str = DEFAULT_REFRESH_SCHEDULE) -> list[Job]:
    """Create pg_cron (if needed) and schedule every job; idempotent."""
    conninfo = resolve_dsn(dsn)
    with connect(conninfo, autocommit=True) as conn:
        cron, _, target = _cron_connection(conn, conninfo)
        try:
            cron.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
            for job in jobs(refresh_schedule):
                cron.execute(
                    "SELECT cron.schedule_in_database(%s, %s, %s, %s)",
                    (f"{job.name}:{target}", job.schedule, job.command, target),
                )
        except psycopg.Error as e:
            raise PydeployError(
                f"scheduling with pg_cron failed: {e.diag.message_primary or e}",
                "creating the pg_cron extension needs a superuser",
            ) from e
        finally:
            if cron is not conn:
                cron.close()
    return jobs(refresh_schedule)


def _installed(cron: psycopg.Connection, target: str) -> list[ScheduledJob]:
    row = cron.execute("SELECT to_regclass('cron.job')").fetchone()
    if not row or not row[0]:
        return []
    with cron.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT j.jobname, j.schedule, j.command, j.active, r.status AS last_status,
                   r.return_message AS last_message, r.end_time AS last_run
              FROM cron.job j
              LEFT JOIN LATERAL (SELECT status, return_message, end_time
                                   FROM cron.job_run_details d WHERE d.jobid = j.jobid
                                  ORDER BY d.runid DESC LIMIT 1) r ON true
             WHERE j.jobname LIKE 'gallery-%%' AND j.database = %s
             ORDER BY j.jobname
            """,
            (target,),
        ).fetchall()
    return [ScheduledJob(**r) for r in rows]


def installed(dsn: str | None) -> list[ScheduledJob]:
    """The package's jobs pg_cron has for this database, with their last run."""
    conninfo = resolve_dsn(dsn)
    with connect(conninfo, autocommit=True) as conn:
        cron, _, target = _cron_connection(conn, conninfo)
        try:
            return _installed(cron, target)
        finally:
            if cron is not conn:
                cron.close()


def remove(dsn: str | None) -> list[str]:
    """Unschedule the package's jobs for this database; returns their names."""
    conninfo = resolve_dsn(dsn)
    with connect(conninfo, autocommit=True) as conn:
        cron, _, target = _cron_connection(conn, conninfo)
        try:
            names = [j.jobname for j in _installed(cron, target)]
            for name in names:
                cron.execute(
                    "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s"
                    " AND database = %s",
                    (name, target),
                )
            return names
        finally:
            if cron is not conn:
                cron.close()
