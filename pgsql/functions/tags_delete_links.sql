CREATE OR REPLACE FUNCTION gallery.tags_delete_links()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE FOR EACH ROW on tags: the tag's links and stats go with it.
    -- Cost: a range delete on content_tags_tag_created_idx (all items of the tag).
    DELETE FROM public.content_tags WHERE tag_id = OLD.id;
    DELETE FROM public.tag_cardinality_stats WHERE tag_id = OLD.id;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.tags_delete_links() IS
    'Trigger: deleting a tag deletes its links';
