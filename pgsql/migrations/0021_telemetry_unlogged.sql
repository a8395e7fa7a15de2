-- depends: 0020_cursor_hmac_any_schema
-- gallery_telemetry UNLOGGED, like the other tables gallery_page writes (plan memo, page
-- cache): a sampled call made its read-only transaction a logged write, whose commit
-- waits for a WAL flush (on this package's test machine ~0.2 ms a sampled call from the
-- client; on a disk that syncs slowly, milliseconds on a tenth of the pages at the
-- default sample rate). Unlogged rows are not written to WAL: such a commit does not
-- wait. A crash restart empties the table, and standbys cannot read it (sampled
-- diagnostics, documented in operations.md).
-- And bounded: the table was only kept in check by the nightly clean-up job, so without
-- pg_cron it grew forever (a tenth of all calls). It is now a ring of at most
-- gallery_config.telemetry_max_rows rows: a sampled call writes the slot after the last
-- one written (gallery_telemetry_slots, modulo the knob), replacing what was there, and
-- skips the sample rather than wait for a transaction that holds that row.
-- (No index on called_at: its updates would not be HOT; the summary reads the ring.)
-- Not ALTER TABLE ... SET UNLOGGED: that rewrites the table under an exclusive lock
-- that every sampled call would wait for. The logged table keeps its rows under a new
-- name instead (dropped here when it has none, as on a new database); the new table
-- takes the name and the summary view.
-- gallery_config first: a gallery_page call reads it before it writes telemetry, so
-- locking them in the other order could deadlock with one.
ALTER TABLE gallery_config ADD COLUMN telemetry_max_rows integer NOT NULL DEFAULT 100000
    CONSTRAINT telemetry_max_rows_range CHECK (telemetry_max_rows BETWEEN 1 AND 10000000);
COMMENT ON COLUMN gallery_config.telemetry_max_rows IS
    'gallery_telemetry is a ring of this many slots: a sampled call writes slot n mod this (n counts them)';

ALTER TABLE gallery_telemetry RENAME TO gallery_telemetry_before_0021;
ALTER INDEX gallery_telemetry_called_at_idx RENAME TO gallery_telemetry_before_0021_called_at_idx;
COMMENT ON TABLE gallery_telemetry_before_0021 IS
    'gallery_telemetry''s rows recorded before migration 0021 (no longer written; drop it when not needed)';

CREATE UNLOGGED SEQUENCE gallery_telemetry_slots;
COMMENT ON SEQUENCE gallery_telemetry_slots IS
    'sampled gallery_page calls recorded (the ring position in gallery_telemetry)';
CREATE UNLOGGED TABLE gallery_telemetry (
    slot bigint PRIMARY KEY,
    LIKE gallery_telemetry_before_0021 INCLUDING DEFAULTS
);
COMMENT ON TABLE gallery_telemetry IS
    'The newest sampled gallery_page calls (gallery_config.telemetry_sample_rate, at most telemetry_max_rows; UNLOGGED: emptied by a crash restart); summarised by gallery_telemetry_summary';

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
