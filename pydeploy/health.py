"""Operational health, apart from deploy state: the gallery's own upkeep.

``pydeploy status`` answers "is the database what the package says?"; this
module answers "is it being looked after?" (``pydeploy health``): tag
statistics present and fresh, the pg_cron jobs' last runs successful; and how
the page cache is doing (``pydeploy status`` shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

STATS_SQL = """
SELECT (SELECT count(*) FROM tags t
         WHERE NOT EXISTS (SELECT 1 FROM tag_cardinality_stats s WHERE s.tag_id = t.id)),
       extract(epoch FROM now() - (SELECT min(updated_at) FROM tag_cardinality_stats)),
       (SELECT freshness_seconds FROM gallery_config)
"""

FAILED_JOBS_SQL = """
SELECT j.jobname, r.return_message, r.end_time
  FROM cron.job j
  JOIN LATERAL (SELECT status, return_message, end_time FROM cron.job_run_details d
                 WHERE d.jobid = j.jobid ORDER BY d.runid DESC LIMIT 1) r ON true
 WHERE j.jobname LIKE 'gallery-%%' AND j.database = current_database() AND r.status = 'failed'
"""

CACHE_SQL = """
SELECT (SELECT cache_enabled FROM gallery_config) AS enabled, s.* FROM gallery_cache_summary s
"""


@dataclass(frozen=True)
class HealthProblem:
    """One problem. ``check`` is one of ``stats_missing``, ``stats_stale``,
    ``cron_job_failed``; the fields that do not apply to it are None."""

    check: str
    message: str
    hint: str
    tags_without_stats: int | None = None
    stats_age_seconds: float | None = None
    freshness_seconds: int | None = None
    job: str | None = None
    job_message: str | None = None
    job_ended_at: str | None = None

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})"


def _scalar(cur: psycopg.Cursor, query: str) -> object:
    row = cur.execute(query).fetchone()
    return row[0] if row else None


def problems(cur: psycopg.Cursor) -> list[HealthProblem]:
    """Stale or missing tag statistics, and failed pg_cron jobs (when pg_cron keeps its
    jobs in this database; otherwise `pydeploy schedule --list` shows them)."""
    found: list[HealthProblem] = []
    if _scalar(cur, "SELECT to_regclass('gallery_config')") is None:
        return found
    row = cur.execute(STATS_SQL).fetchone()
    missing, age, freshness = row if row else (0, None, None)
    if missing:
        found.append(
            HealthProblem(
                "stats_missing",
                f"{missing} tags have no statistics",
                "run `pydeploy stats refresh`; until then the planner assumes "
                "fallback_default_count for them",
                tags_without_stats=int(missing),
            )
        )
    if age is not None and freshness is not None and age > freshness:
        found.append(
            HealthProblem(
                "stats_stale",
                f"tag statistics are {float(age) / 60:.0f} minutes old "
                f"(freshness_seconds {freshness})",
                "run `pydeploy stats refresh`, or `pydeploy schedule` to refresh them periodically",
                stats_age_seconds=round(float(age), 1),
                freshness_seconds=int(freshness),
            )
        )
    if _scalar(cur, "SELECT to_regclass('cron.job')") is not None:
        for name, message, ended in cur.execute(FAILED_JOBS_SQL):
            found.append(
                HealthProblem(
                    "cron_job_failed",
                    f"pg_cron job {name} failed on its last run: {' '.join(str(message).split())}",
                    "`pydeploy schedule --list` shows the jobs; cron.job_run_details the runs",
                    job=name,
                    job_message=message,
                    job_ended_at=ended.isoformat() if ended else None,
                )
            )
    return found


@dataclass(frozen=True)
class CacheSummary:
    """The page cache's state (view gallery_cache_summary): its counters run since the
    last crash restart."""

    enabled: bool
    entries: int
    valid_entries: int
    bytes: int
    hits: int
    misses: int
    fills: int
    invalidations: int
    expirations: int
    evictions: int

    @property
    def hit_rate(self) -> float | None:
        calls = self.hits + self.misses
        return self.hits / calls if calls else None

    def __str__(self) -> str:
        rate = "no calls yet" if self.hit_rate is None else f"hit rate {self.hit_rate:.1%}"
        return (
            f"page cache {'on' if self.enabled else 'off'}: {self.entries} pages"
            f" ({self.valid_entries} valid, {self.bytes / 1024:.0f} kB), {rate}"
            f" ({self.hits} hits, {self.misses} misses: {self.invalidations} invalidated,"
            f" {self.expirations} expired; {self.evictions} evicted)"
        )


def cache_summary(cur: psycopg.Cursor) -> CacheSummary | None:
    """None before migration 0014."""
    if _scalar(cur, "SELECT to_regclass('gallery_cache_summary')") is None:
        return None
    row = cur.execute(CACHE_SQL).fetchone()
    return CacheSummary(*row) if row else None
