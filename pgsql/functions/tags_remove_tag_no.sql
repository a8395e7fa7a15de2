CREATE OR REPLACE FUNCTION gallery.tags_remove_tag_no()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE DELETE FOR EACH ROW on tags: the tag's number leaves every item
    -- (its links are deleted after the tag, when the tag can no longer be looked up),
    -- the items locked in (id, source_type) order like content_tags_apply_tag_nos does;
    -- BEFORE UPDATE OF tag_no: a tag's number never changes (55000).
    -- Cost: delete: a GIN index scan of the tag's items, a sort, one update each.
    IF TG_OP = 'UPDATE' THEN
        IF NEW.tag_no IS DISTINCT FROM OLD.tag_no THEN
            RAISE EXCEPTION 'tags.tag_no of tag % cannot change', OLD.id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'tag_no numbers the tag in content_items_all.tag_nos';
        END IF;
        RETURN NEW;
    END IF;
    PERFORM 1 FROM public.content_items_all
      WHERE tag_nos @> ARRAY[OLD.tag_no]
      ORDER BY id, source_type
        FOR NO KEY UPDATE;
    UPDATE public.content_items_all SET tag_nos = array_remove(tag_nos, OLD.tag_no)
     WHERE tag_nos @> ARRAY[OLD.tag_no];
    RETURN OLD;
END
$$;

COMMENT ON FUNCTION gallery.tags_remove_tag_no() IS
    'Trigger: a deleted tag''s number leaves every tag_nos';
