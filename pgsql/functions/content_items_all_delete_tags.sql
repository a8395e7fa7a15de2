CREATE OR REPLACE FUNCTION gallery.content_items_all_delete_tags()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE FOR EACH ROW on content_items_all (both partitions):
    -- the item's links go with it. Cost: one primary-key range delete on content_tags.
    DELETE FROM public.content_tags WHERE content_id = OLD.id AND content_source = OLD.source_type;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_items_all_delete_tags() IS
    'Trigger: deleting an item deletes its links';
