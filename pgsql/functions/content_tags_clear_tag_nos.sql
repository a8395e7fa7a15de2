CREATE OR REPLACE FUNCTION gallery.content_tags_clear_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER TRUNCATE on content_tags: no item has tags any more, and the
    -- changes this transaction queued before the truncate are dropped.
    -- Cost: one update per item that had tags (GIN index scan).
    DELETE FROM public.tag_nos_pending WHERE xact = pg_current_xact_id();
    UPDATE public.content_items_all SET tag_nos = '{}' WHERE tag_nos <> '{}';
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_clear_tag_nos() IS
    'Trigger: TRUNCATE content_tags empties every tag_nos';
