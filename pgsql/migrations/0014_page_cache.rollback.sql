DROP TRIGGER content_items_all_cache_truncated ON content_items_all;
DROP TRIGGER content_tags_cache_truncated ON content_tags;
DROP TRIGGER content_items_all_touch_cache_update ON content_items_all;
DROP TRIGGER content_items_all_touch_cache_insert_delete ON content_items_all;
DROP TRIGGER content_tags_touch_cache_update_old ON content_tags;
DROP TRIGGER content_tags_touch_cache_update_new ON content_tags;
DROP TRIGGER content_tags_touch_cache_delete ON content_tags;
DROP TRIGGER content_tags_touch_cache_insert ON content_tags;
DROP FUNCTION IF EXISTS gallery.gallery_cache_truncated();
DROP FUNCTION IF EXISTS gallery.content_items_all_touch_cache();
DROP FUNCTION IF EXISTS gallery.content_tags_touch_cache_old();
DROP FUNCTION IF EXISTS gallery.content_tags_touch_cache_new();
DROP VIEW public.gallery_cache_summary;
DROP SEQUENCE public.gallery_cache_expirations;
DROP SEQUENCE public.gallery_cache_invalidations;
DROP SEQUENCE public.gallery_cache_evictions;
DROP SEQUENCE public.gallery_cache_misses;
DROP SEQUENCE public.gallery_cache_hits;
DROP SEQUENCE public.gallery_cache_fills;
DROP TABLE public.gallery_page_cache;
DROP TYPE public.gallery_cached_row;
DROP TABLE public.gallery_cache_versions;
ALTER TABLE gallery_config
    DROP COLUMN cache_max_entries,
    DROP COLUMN cache_ttl_seconds,
    DROP COLUMN cache_enabled;
