CREATE OR REPLACE FUNCTION gallery.content_tags_take_created_at()  -- noqa: PD003 one call per link written: a SET clause doubled its cost (16 µs a row); every name is schema-qualified, its operators too, it runs with the writer's own rights, and the commit re-checks its result with a pinned search_path
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
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
    -- Cost: one primary-key probe of the item's partition per link. No SET
    -- search_path (it would double the cost): names and operators are qualified.
    IF NEW.content_source OPERATOR(pg_catalog.=) 'items' THEN
        NEW.created_at := (SELECT i.created_at FROM public.content_items i
                            WHERE i.id OPERATOR(pg_catalog.=) NEW.content_id);
    ELSE
        NEW.created_at := (SELECT i.created_at FROM public.content_items_auto i
                            WHERE i.id OPERATOR(pg_catalog.=) NEW.content_id);
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_take_created_at() IS
    'Trigger: a link''s created_at is its item''s';
