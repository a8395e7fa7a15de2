"""What `pydeploy status` reports beyond deploy state: the gallery's own upkeep."""

from __future__ import annotations

import psycopg

STATS_SQL = """
SELECT (SELECT count(*) FROM tags t
         WHERE NOT EXISTS (SELECT 1 FROM tag_cardinality_stats s WHERE s.tag_id = t.id)),
       extract(epoch FROM now() - (SELECT min(updated_at) FROM tag_cardinality_stats)),
       (SELECT freshness_seconds FROM gallery_config)
"""

FAILED_JOBS_SQL = """
SELECT j.jobname, r.return_message
  FROM cron.job j
  JOIN LATERAL (SELECT status, return_message FROM cron.job_run_details d
                 WHERE d.jobid = j.jobid ORDER BY d.runid DESC LIMIT 1) r ON true
 WHERE j.jobname LIKE 'gallery-%%' AND j.database = current_database() AND r.status = 'failed'
"""


def problems(cur: psycopg.Cursor) -> list[str]:
    """Stale or missing tag statistics, and failed pg_cron jobs (when pg_cron keeps its
    jobs in this database; otherwise `pydeploy schedule --list` shows them)."""
    found: list[str] = []
    if cur.execute("SELECT to_regclass('gallery_config')").fetchone()[0] is None:
        return found
    missing, age, freshness = cur.execute(STATS_SQL).fetchone()
    if missing:
        found.append(
            f"{missing} tags have no statistics: run `pydeploy stats refresh` "
            "(the planner assumes fallback_default_count for them)"
        )
    if age is not None and age > freshness:
        found.append(
            f"tag statistics are {age / 60:.0f} minutes old (freshness_seconds {freshness}): "
            "run `pydeploy stats refresh`, or `pydeploy schedule`"
        )
    if cur.execute("SELECT to_regclass('cron.job')").fetchone()[0] is not None:
        for name, message in cur.execute(FAILED_JOBS_SQL):
            found.append(f"pg_cron job {name} failed on its last run: {message}")
    return found
