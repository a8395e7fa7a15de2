-- depends: 0015_plan_memo
-- gallery_count's memo (docs/api.md, "gallery_count"): an answer is kept for the next
-- calls with the same arguments, in any session, and used only while everything it was
-- computed from is unchanged: gallery_config's row and plan_memo_ttl_seconds, and
--   an estimate: the sample (the version of its 'public' row, rewritten by every
--     gallery_stats_refresh), the tags' numbers (read again on every use) and the plan
--     generation (writes to tags and the per-tag counts);
--   an exact count: the page cache's versions of its tags (every item's without a tag
--     filter), which writers bump in their own transaction, read before the count.
-- The knobs are the plan memo's: plan_memo_entries = 0 turns both off.
-- UNLOGGED: a crash restart empties the memo and resets its sequence together (and the
-- page cache's versions), which is a valid (cold) state. Catalog changes only.

CREATE UNLOGGED SEQUENCE public.gallery_count_memo_fills;
COMMENT ON SEQUENCE public.gallery_count_memo_fills IS
    'entries stored in gallery_count_memo (also their order)';

CREATE UNLOGGED TABLE public.gallery_count_memo (
    fill       bigint      PRIMARY KEY,  -- gallery_count_memo_fills
    key        bytea       NOT NULL,     -- sha256 of the arguments as given
    config     xid         NOT NULL,     -- gallery_config's row version counted with
    expires_at timestamptz NOT NULL,
    -- gallery_count's answer
    items      bigint      NOT NULL,
    exact      boolean     NOT NULL,
    low        bigint      NOT NULL,
    high       bigint,
    -- an estimate's inputs (NULL for a count)
    generation bigint,                   -- gallery_plan_generation
    sample     xid,                      -- count_sample_bits' version
    tag_nos    integer[],                -- the tags' numbers
    -- a count's input (NULL for an estimate)
    versions   bigint,                   -- the sum of the guard's gallery_cache_versions
    CONSTRAINT gallery_count_memo_inputs CHECK (
        (versions IS NULL) = (generation IS NOT NULL AND sample IS NOT NULL AND tag_nos IS NOT NULL))
);
CREATE INDEX gallery_count_memo_key_idx ON public.gallery_count_memo (key, fill);
COMMENT ON TABLE public.gallery_count_memo IS
    'gallery_count''s answers for calls with the same arguments; the newest entry of a key is used while what it was computed from is unchanged';
