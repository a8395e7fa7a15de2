-- depends: 0004_legacy_tags_dual_write
-- The gallery's knobs, its telemetry, and the index the viewer's own items need.

-- One row of typed settings: a bad value is rejected when it is written (CHECK),
-- never discovered by a gallery query.
CREATE TABLE gallery_config (
    singleton                     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    small_k_threshold             integer NOT NULL DEFAULT 3
        CONSTRAINT small_k_threshold_range CHECK (small_k_threshold BETWEEN 0 AND 10),
    group_having_rarest_ceiling   bigint NOT NULL DEFAULT 50000
        CONSTRAINT group_having_rarest_ceiling_range CHECK (group_having_rarest_ceiling >= 0),
    two_phase_min_k_for_dual_seed integer NOT NULL DEFAULT 7
        CONSTRAINT two_phase_min_k_for_dual_seed_range
        CHECK (two_phase_min_k_for_dual_seed BETWEEN 2 AND 100),
    two_phase_dual_seed_floor     bigint NOT NULL DEFAULT 150000
        CONSTRAINT two_phase_dual_seed_floor_range CHECK (two_phase_dual_seed_floor >= 0),
    seed_candidate_cap            bigint NOT NULL DEFAULT 50000
        CONSTRAINT seed_candidate_cap_range CHECK (seed_candidate_cap > 0),
    max_work_mem_mb               integer NOT NULL DEFAULT 256
        CONSTRAINT max_work_mem_mb_range CHECK (max_work_mem_mb BETWEEN 1 AND 4096),
    enable_self_join              boolean NOT NULL DEFAULT true,
    enable_group_having           boolean NOT NULL DEFAULT true,
    enable_two_phase              boolean NOT NULL DEFAULT true,
    enable_order_first            boolean NOT NULL DEFAULT true,
    max_tags                      integer NOT NULL DEFAULT 20
        CONSTRAINT max_tags_range CHECK (max_tags BETWEEN 1 AND 100),
    freshness_seconds             integer NOT NULL DEFAULT 3600
        CONSTRAINT freshness_seconds_range CHECK (freshness_seconds > 0),
    fallback_default_count        bigint NOT NULL DEFAULT 1000000
        CONSTRAINT fallback_default_count_range CHECK (fallback_default_count >= 0),
    telemetry_sample_rate         double precision NOT NULL DEFAULT 0.1
        CONSTRAINT telemetry_sample_rate_range CHECK (telemetry_sample_rate BETWEEN 0 AND 1),
    cursor_secret                 text NOT NULL
        DEFAULT md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text)
        CONSTRAINT cursor_secret_length CHECK (length(cursor_secret) >= 16),
    updated_at                    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO gallery_config DEFAULT VALUES;

COMMENT ON TABLE gallery_config IS 'Knobs of the gallery planner (one row); see docs/planner.md';
COMMENT ON COLUMN gallery_config.small_k_threshold IS
    'ALL with at most this many tags: self-join strategy (seed Proposal 5 A)';
COMMENT ON COLUMN gallery_config.group_having_rarest_ceiling IS
    'rarest tag on at most this many items: GROUP BY/HAVING strategy over the candidates';
COMMENT ON COLUMN gallery_config.two_phase_min_k_for_dual_seed IS
    'two-phase with at least this many tags may seed with the two rarest tags';
COMMENT ON COLUMN gallery_config.two_phase_dual_seed_floor IS
    'two-phase seeds with two tags when the rarest is on more items than this';
COMMENT ON COLUMN gallery_config.seed_candidate_cap IS
    'most candidates a tag-first strategy may collect; above it the planner walks in time order';
COMMENT ON COLUMN gallery_config.max_work_mem_mb IS
    'work_mem for one gallery_page call (set for the call only)';
COMMENT ON COLUMN gallery_config.max_tags IS 'more tags than this in one call is an error';
COMMENT ON COLUMN gallery_config.freshness_seconds IS
    'tag_cardinality_stats older than this are reported stale';
COMMENT ON COLUMN gallery_config.fallback_default_count IS
    'cardinality the planner assumes for a tag without stats';
COMMENT ON COLUMN gallery_config.telemetry_sample_rate IS
    'share of gallery_page calls recorded in gallery_telemetry (0 = off)';
COMMENT ON COLUMN gallery_config.cursor_secret IS
    'key that signs cursors against corruption and tampering; changing it invalidates every cursor handed out';

-- Sampled calls of gallery_page: what the planner chose and what it cost.
CREATE TABLE gallery_telemetry (
    called_at            timestamptz NOT NULL DEFAULT now(),
    strategy             text NOT NULL,
    forced               boolean NOT NULL,
    k                    integer NOT NULL,
    match                text NOT NULL,
    sources              text[] NOT NULL,
    rarest_count         bigint,
    estimated_candidates bigint,
    rows_returned        integer NOT NULL,
    duration_ms          double precision NOT NULL
);
CREATE INDEX gallery_telemetry_called_at_idx ON gallery_telemetry USING brin (called_at);
COMMENT ON TABLE gallery_telemetry IS
    'Sampled gallery_page calls (gallery_config.telemetry_sample_rate); summarised by gallery_telemetry_summary';

CREATE VIEW gallery_telemetry_summary AS
SELECT strategy, k, count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       max(duration_ms) AS max_ms,
       avg(rows_returned) AS avg_rows,
       min(called_at) AS first_call, max(called_at) AS last_call
  FROM gallery_telemetry
 GROUP BY strategy, k;
COMMENT ON VIEW gallery_telemetry_summary IS 'Calls, p50, p95 and max duration per strategy and number of tags';

-- The viewer's own items, newest first (user-* sources). On adopted tables the
-- online preparation built the partitions' indexes already: this attaches them.
CREATE INDEX content_items_all_creator_created_at_id_idx
    ON content_items_all (creator_id, created_at DESC, id DESC);
