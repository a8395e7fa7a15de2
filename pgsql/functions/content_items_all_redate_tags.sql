CREATE OR REPLACE FUNCTION gallery.content_items_all_redate_tags()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER UPDATE OF created_at, is_private FOR EACH ROW on
    -- content_items_all, fired only when one of them changed: the item's links take
    -- the new values (content_tags_take_created_at reads them back from the item).
    -- Cost: one primary-key range update on content_tags (the item's links), which
    -- fires content_tags' update triggers.
    UPDATE public.content_tags SET created_at = NEW.created_at, is_private = NEW.is_private
     WHERE content_id = NEW.id AND content_source = NEW.source_type;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_items_all_redate_tags() IS
    'Trigger: a re-dated item''s links take its new created_at, a re-scoped one''s its is_private';
