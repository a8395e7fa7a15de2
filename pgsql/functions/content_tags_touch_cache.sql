CREATE OR REPLACE FUNCTION gallery.content_tags_touch_cache()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT, DELETE or UPDATE FOR EACH STATEMENT on content_tags, with
    -- the rows as new_links / old_links: the page cache's versions of their tags are
    -- bumped (_gallery_cache_touch), so pages filtered by them are read afresh.
    -- Cost: one pass over the statement's rows; one upsert per distinct tag.
    IF TG_OP = 'INSERT' THEN
        PERFORM _gallery_cache_touch(ARRAY(SELECT DISTINCT n.tag_id FROM new_links n));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM _gallery_cache_touch(ARRAY(SELECT DISTINCT o.tag_id FROM old_links o));
    ELSE
        PERFORM _gallery_cache_touch(ARRAY(SELECT o.tag_id FROM old_links o
                                           UNION
                                           SELECT n.tag_id FROM new_links n));
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_touch_cache() IS
    'Trigger: bump the page cache''s versions of the tags whose links a statement changed';
