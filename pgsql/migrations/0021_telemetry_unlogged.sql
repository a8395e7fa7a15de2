-- depends: 0020_cursor_hmac_any_schema
-- gallery_telemetry UNLOGGED, like the other tables gallery_page writes (plan memo, page
-- cache): a sampled call made its read-only transaction a logged write, whose commit
-- waits for a WAL flush (on this package's test machine ~0.2 ms a sampled call from the
-- client; on a disk that syncs slowly, milliseconds on a tenth of the pages at the
-- default sample rate). Unlogged rows are not written to WAL: such a commit does not
-- wait. A crash restart empties the table, and standbys cannot read it (sampled
-- diagnostics, documented in operations.md).
-- Not ALTER TABLE ... SET UNLOGGED: that rewrites the table under an exclusive lock
-- that every sampled call would wait for. The logged table keeps its rows under a new
-- name instead (dropped here when it has none, as on a new database); the new table
-- takes the name, the index name and the summary view.
ALTER TABLE gallery_telemetry RENAME TO gallery_telemetry_before_0021;
ALTER INDEX gallery_telemetry_called_at_idx RENAME TO gallery_telemetry_before_0021_called_at_idx;
COMMENT ON TABLE gallery_telemetry_before_0021 IS
    'gallery_telemetry''s rows recorded before migration 0021 (no longer written; drop it when not needed)';

CREATE UNLOGGED TABLE gallery_telemetry (LIKE gallery_telemetry_before_0021 INCLUDING DEFAULTS);
CREATE INDEX gallery_telemetry_called_at_idx ON gallery_telemetry USING brin (called_at);
COMMENT ON TABLE gallery_telemetry IS
    'Sampled gallery_page calls (gallery_config.telemetry_sample_rate; UNLOGGED: emptied by a crash restart); summarised by gallery_telemetry_summary';

CREATE OR REPLACE VIEW gallery_telemetry_summary AS
SELECT strategy, k, count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms,
       avg(rows_returned) AS avg_rows,
       min(called_at) AS first_call, max(called_at) AS last_call
  FROM gallery_telemetry
 GROUP BY strategy, k;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM gallery_telemetry_before_0021) THEN
        DROP TABLE gallery_telemetry_before_0021;
    END IF;
END
$$;
