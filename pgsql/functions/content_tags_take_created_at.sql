CREATE OR REPLACE FUNCTION gallery.content_tags_take_created_at()  -- noqa: PD003 one call per link written: a SET clause doubled its cost (16 µs a row); every name is schema-qualified, its operators too, it runs with the writer's own rights, and the commit re-checks its result with a pinned search_path
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
BEGIN
    -- Contract: BEFORE INSERT (when created_at is NULL) and BEFORE UPDATE (unless the
    -- online fill gives a NULL created_at its first value) FOR EACH ROW on
    -- content_tags: the link takes its item's created_at and is_private, so that the
    -- index content_tags_tag_created_idx lists each tag's items in page order with
    -- their privacy. A writer may pass the item's created_at itself (one probe less per
    -- link; is_private then keeps what it passed, false by default); whatever it passed
    -- is checked at commit against the item, locked, and corrected
    -- (content_tags_apply_tag_nos), as is a value read here from an item that another
    -- transaction changed before this one commits. A link to an item that does not
    -- exist keeps NULL and fails the statement's reference check
    -- (content_tags_check_references).
    -- Cost: one primary-key probe of the item's partition per link. No SET
    -- search_path (it would double the cost): names and operators are qualified.
    IF NEW.content_source OPERATOR(pg_catalog.=) 'items' THEN
        SELECT i.created_at, i.is_private INTO NEW.created_at, NEW.is_private
          FROM public.content_items i
         WHERE i.id OPERATOR(pg_catalog.=) NEW.content_id;
    ELSE
        SELECT i.created_at, i.is_private INTO NEW.created_at, NEW.is_private
          FROM public.content_items_auto i
         WHERE i.id OPERATOR(pg_catalog.=) NEW.content_id;
    END IF;
    IF NOT FOUND THEN  -- (is_private is NOT NULL: the reference check says what is wrong)
        NEW.is_private := false;
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_take_created_at() IS
    'Trigger: a link''s created_at and is_private are its item''s';
