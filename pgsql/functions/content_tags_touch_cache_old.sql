CREATE OR REPLACE FUNCTION gallery.content_tags_touch_cache_old()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- writers need no right on the page cache's tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE and AFTER UPDATE FOR EACH STATEMENT on content_tags, with
    -- the links deleted (for an update: as they were) as old_links: bumps the page
    -- cache's versions of their tags (_gallery_cache_touch), so pages filtered by them
    -- are read afresh.
    -- Cost: one pass over the statement's rows; one upsert per distinct tag.
    PERFORM _gallery_cache_touch(ARRAY(SELECT DISTINCT o.tag_id FROM old_links o));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_touch_cache_old() IS
    'Trigger: bump the page cache''s versions of the tags of the links a statement deleted or updated';
