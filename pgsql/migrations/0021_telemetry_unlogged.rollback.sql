-- gallery_telemetry logged again, with the rows recorded since 0021 (the logged table
-- back under its name; created when 0021 had dropped it empty). The copy holds an
-- exclusive lock on the unlogged table until the rollback commits. gallery_config is
-- locked first, as gallery_page calls lock it (they read it before writing telemetry).
LOCK TABLE gallery_config IN ACCESS EXCLUSIVE MODE;
CREATE TABLE IF NOT EXISTS gallery_telemetry_before_0021 (LIKE gallery_telemetry INCLUDING DEFAULTS);
ALTER TABLE gallery_telemetry_before_0021 DROP COLUMN IF EXISTS slot;
CREATE INDEX IF NOT EXISTS gallery_telemetry_before_0021_called_at_idx
    ON gallery_telemetry_before_0021 USING brin (called_at);
LOCK TABLE gallery_telemetry IN EXCLUSIVE MODE;
INSERT INTO gallery_telemetry_before_0021
SELECT called_at, strategy, forced, k, match, sources, rarest_count, estimated_candidates,
       rows_returned, duration_ms
  FROM gallery_telemetry ORDER BY called_at;

CREATE OR REPLACE VIEW gallery_telemetry_summary AS
SELECT strategy, k, count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms,
       avg(rows_returned) AS avg_rows,
       min(called_at) AS first_call, max(called_at) AS last_call
  FROM gallery_telemetry_before_0021
 GROUP BY strategy, k;
DROP TABLE gallery_telemetry;
DROP SEQUENCE gallery_telemetry_slots;
ALTER TABLE gallery_config DROP COLUMN telemetry_max_rows;

ALTER TABLE gallery_telemetry_before_0021 RENAME TO gallery_telemetry;
ALTER INDEX gallery_telemetry_before_0021_called_at_idx RENAME TO gallery_telemetry_called_at_idx;
COMMENT ON TABLE gallery_telemetry IS
    'Sampled gallery_page calls (gallery_config.telemetry_sample_rate); summarised by gallery_telemetry_summary';
