DROP TRIGGER tag_pair_stats_plan_memo_outdate ON tag_pair_stats;
DROP TRIGGER tag_cardinality_stats_plan_memo_outdate ON tag_cardinality_stats;
DROP TRIGGER tags_plan_memo_outdate ON tags;
DROP FUNCTION IF EXISTS gallery.gallery_plan_memo_outdate();
DROP TABLE public.gallery_plan_memo;
DROP SEQUENCE public.gallery_plan_memo_fills;
DROP SEQUENCE public.gallery_plan_generation;
ALTER TABLE gallery_config
    DROP COLUMN plan_memo_ttl_seconds,
    DROP COLUMN plan_memo_entries;
