CREATE OR REPLACE FUNCTION gallery.content_tags_take_created_at()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE INSERT (when created_at is NULL) and BEFORE UPDATE (unless the
    -- online fill gives a NULL created_at its first value) FOR EACH ROW on
    -- content_tags: the link takes its item's created_at, so that the index
    -- content_tags_tag_created_idx lists each tag's items in page order. A writer may
    -- pass the item's created_at itself (one probe less per link); whatever it passed
    -- is checked at commit against the item, locked, and corrected
    -- (content_tags_apply_tag_nos), as is a date read here from an item that another
    -- transaction re-dated before this one commits. A link to an item that does not
    -- exist keeps NULL and fails the statement's reference check
    -- (content_tags_check_references).
    -- Cost: one primary-key probe of the item's partition per link.
    IF NEW.content_source = 'items' THEN
        NEW.created_at := (SELECT i.created_at FROM public.content_items i
                            WHERE i.id = NEW.content_id);
    ELSE
        NEW.created_at := (SELECT i.created_at FROM public.content_items_auto i
                            WHERE i.id = NEW.content_id);
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_take_created_at() IS
    'Trigger: a link''s created_at is its item''s';
