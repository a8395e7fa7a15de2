-- depends: 0014_page_cache
-- gallery_page's plan memo (docs/planner.md, "The plan memo"): the checked, normalised
-- and planned form of a call's filters, kept for the next calls with the same arguments
-- (pages 2..N of a filter, the same filter in any session). An entry is used only while
-- gallery_config's row, the tags and the planner's statistics are what it was planned
-- with (a generation bumped by statement triggers on those tables) and it is younger than
-- plan_memo_ttl_seconds (the partitions' sizes in pg_class are read when planning, and
-- move with ANALYZE). A stale plan can only be slower, never wrong: the tags' numbers, the
-- one part that decides which rows match, are kept only when every tag exists, and a
-- tag's creation or deletion bumps the generation.
-- UNLOGGED: a crash restart empties the memo and resets its sequences together, which
-- is a valid (cold) state. Catalog changes only.

ALTER TABLE gallery_config
    ADD COLUMN plan_memo_entries integer NOT NULL DEFAULT 10000
        CONSTRAINT plan_memo_entries_range CHECK (plan_memo_entries BETWEEN 0 AND 1000000),
    ADD COLUMN plan_memo_ttl_seconds integer NOT NULL DEFAULT 60
        CONSTRAINT plan_memo_ttl_seconds_range CHECK (plan_memo_ttl_seconds BETWEEN 1 AND 86400);
COMMENT ON COLUMN gallery_config.plan_memo_entries IS
    'most plans gallery_page keeps for calls with the same filters (0: none); the oldest make room';
COMMENT ON COLUMN gallery_config.plan_memo_ttl_seconds IS
    'a kept plan is used at most this long after it was made';

-- Bumped (nextval, not transactional) by any write to tags and the planner's statistics:
-- a plan made before the bump is not used after it.
CREATE UNLOGGED SEQUENCE public.gallery_plan_generation;
COMMENT ON SEQUENCE public.gallery_plan_generation IS
    'bumped by writes to tags, tag_cardinality_stats and tag_pair_stats: plans made before are not used';
-- Numbers the entries: the newest of a key is the one used; an entry stored removes
-- those plan_memo_entries behind it. Readers only ever insert new rows and delete
-- rows no one else locks (SKIP LOCKED): they never wait for each other here.
CREATE UNLOGGED SEQUENCE public.gallery_plan_memo_fills;
COMMENT ON SEQUENCE public.gallery_plan_memo_fills IS
    'entries stored in gallery_plan_memo (also their order)';

CREATE UNLOGGED TABLE public.gallery_plan_memo (
    fill                 bigint      PRIMARY KEY,  -- gallery_plan_memo_fills
    key                  bytea       NOT NULL,     -- sha256 of the arguments as given
    config               xid         NOT NULL,     -- gallery_config's row version planned with
    generation           bigint      NOT NULL,     -- gallery_plan_generation planned with
    expires_at           timestamptz NOT NULL,
    -- _gallery_request's results that do not depend on the cursor, direction or viewer
    filter_key           text        NOT NULL,     -- tags sorted, match, sources: the cursor's filter hash without the viewer
    tags                 uuid[]      NOT NULL,     -- rarest first
    tag_nos              integer[]   NOT NULL,
    sources              text[]      NOT NULL,
    types                text[]      NOT NULL,
    own                  text[]      NOT NULL,
    others               text[]      NOT NULL,
    strategy             text        NOT NULL,
    rarest_count         bigint,
    estimated_candidates bigint,
    costs                jsonb       NOT NULL
);
CREATE INDEX gallery_plan_memo_key_idx ON public.gallery_plan_memo (key, fill);
COMMENT ON TABLE public.gallery_plan_memo IS
    'gallery_page''s plans for calls with the same filters; the newest entry of a key is used while config, generation and expires_at allow';

-- The trigger's function (its file replaces this in the same transaction).
CREATE OR REPLACE FUNCTION gallery.gallery_plan_memo_outdate() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';

CREATE TRIGGER tags_plan_memo_outdate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tags
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.gallery_plan_memo_outdate();
CREATE TRIGGER tag_cardinality_stats_plan_memo_outdate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tag_cardinality_stats
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.gallery_plan_memo_outdate();
CREATE TRIGGER tag_pair_stats_plan_memo_outdate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tag_pair_stats
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.gallery_plan_memo_outdate();
