CREATE OR REPLACE FUNCTION gallery.content_items_all_guard_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE INSERT OR UPDATE OF tag_nos FOR EACH ROW on content_items_all,
    -- fired only when a statement of its own (not one of the triggers above) sets
    -- tag_nos: refused (0A000), the column is derived from content_tags.
    -- Cost: none for writes that leave tag_nos alone (trigger WHEN clauses).
    RAISE EXCEPTION 'content_items_all.tag_nos is derived from content_tags'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'insert or delete content_tags rows; tag_nos follows them';
END
$$;

COMMENT ON FUNCTION gallery.content_items_all_guard_tag_nos() IS
    'Trigger: tag_nos is written only by the content_tags triggers';
