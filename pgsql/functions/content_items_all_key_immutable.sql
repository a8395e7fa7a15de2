CREATE OR REPLACE FUNCTION gallery.content_items_all_key_immutable()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE UPDATE OF id, source_type on content_items_all. Cost: none.
    -- Raises feature_not_supported when either changes.
    IF NEW.id <> OLD.id OR NEW.source_type <> OLD.source_type THEN
        RAISE EXCEPTION 'cannot change id or source_type of content item %', OLD.id
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'insert a new item (and its tags) and delete the old one';
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION gallery.content_items_all_key_immutable() IS
    'Trigger: an item''s id and source_type never change';
