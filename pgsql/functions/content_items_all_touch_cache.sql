CREATE OR REPLACE FUNCTION gallery.content_items_all_touch_cache()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- writers need no right on the page cache's tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: on content_items_all, AFTER INSERT OR DELETE FOR EACH STATEMENT and
    -- AFTER UPDATE FOR EACH ROW of a column a page shows or filters on (the trigger's
    -- WHEN): bumps the page cache's version of "every item" (the nil uuid: pages
    -- without a tag filter), and for an update also the versions of the item's tags
    -- (_gallery_cache_touch). (An item's links are inserted and deleted in
    -- content_tags, whose trigger bumps their tags.)
    -- Cost: one upsert; for an updated item, one read of its links.
    IF TG_LEVEL = 'ROW' THEN
        PERFORM _gallery_cache_touch(ARRAY(SELECT ct.tag_id FROM public.content_tags ct
                                            WHERE ct.content_id = NEW.id
                                              AND ct.content_source = NEW.source_type)
                                     || '00000000-0000-0000-0000-000000000000'::uuid);
    ELSE
        PERFORM _gallery_cache_touch('{00000000-0000-0000-0000-000000000000}');
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_items_all_touch_cache() IS
    'Trigger: bump the page cache''s versions of every item, and of an updated item''s tags';
