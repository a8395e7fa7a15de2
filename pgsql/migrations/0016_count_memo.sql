-- depends: 0015_plan_memo
-- gallery_count's estimate memo (docs/api.md, "gallery_count"): an estimate answered
-- from the stats sample is kept for the next calls with the same arguments, in any
-- session. An entry is used only while everything it was computed from is unchanged:
-- gallery_config's row, the sample (the version of its 'public' row, rewritten by every
-- gallery_stats_refresh), the tags' numbers (read again on every use), the plan
-- generation (writes to tags and the per-tag counts) and plan_memo_ttl_seconds. The
-- knobs are the plan memo's: plan_memo_entries = 0 turns both off.
-- UNLOGGED: a crash restart empties the memo and resets its sequence together, which
-- is a valid (cold) state. Catalog changes only.

CREATE UNLOGGED SEQUENCE public.gallery_count_memo_fills;
COMMENT ON SEQUENCE public.gallery_count_memo_fills IS
    'entries stored in gallery_count_memo (also their order)';

CREATE UNLOGGED TABLE public.gallery_count_memo (
    fill       bigint      PRIMARY KEY,  -- gallery_count_memo_fills
    key        bytea       NOT NULL,     -- sha256 of the arguments as given
    config     xid         NOT NULL,     -- gallery_config's row version estimated with
    generation bigint      NOT NULL,     -- gallery_plan_generation estimated with
    sample     xid         NOT NULL,     -- count_sample_bits' version estimated from
    expires_at timestamptz NOT NULL,
    tag_nos    integer[]   NOT NULL,     -- the tags' numbers estimated for
    items      bigint      NOT NULL,     -- gallery_count's answer
    low        bigint      NOT NULL,
    high       bigint      NOT NULL
);
CREATE INDEX gallery_count_memo_key_idx ON public.gallery_count_memo (key, fill);
COMMENT ON TABLE public.gallery_count_memo IS
    'gallery_count''s estimates for calls with the same arguments; the newest entry of a key is used while config, sample, tags, generation and expires_at allow';
