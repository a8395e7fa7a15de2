CREATE OR REPLACE FUNCTION gallery.content_tags_touch_cache_new()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- writers need no right on the page cache's tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT and AFTER UPDATE FOR EACH STATEMENT on content_tags, with
    -- the links inserted (for an update: as they are now) as new_links: bumps the page
    -- cache's versions of their tags (_gallery_cache_touch), so pages filtered by them
    -- are read afresh.
    -- Cost: one pass over the statement's rows; one upsert per distinct tag.
    PERFORM _gallery_cache_touch(ARRAY(SELECT DISTINCT n.tag_id FROM new_links n));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_touch_cache_new() IS
    'Trigger: bump the page cache''s versions of the tags of the links a statement inserted or updated';
