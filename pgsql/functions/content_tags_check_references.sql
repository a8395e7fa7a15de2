CREATE OR REPLACE FUNCTION gallery.content_tags_check_references()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_link record;
BEGIN
    -- Contract: AFTER INSERT / AFTER UPDATE ... FOR EACH STATEMENT on content_tags,
    -- with the new rows as transition table new_links. Raises foreign_key_violation
    -- naming the first link whose item or tag does not exist.
    -- Cost: one pass over the statement's rows to find its distinct items and tags,
    -- then one index probe per distinct item and per distinct tag.
    SELECT l.content_id, l.content_source, NULL::uuid AS tag_id, true AS item_missing
      INTO v_link
      FROM (SELECT DISTINCT content_id, content_source FROM new_links) AS l
     WHERE NOT EXISTS (SELECT 1 FROM public.content_items_all i
                        WHERE i.id = l.content_id AND i.source_type = l.content_source)
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT NULL AS content_id, NULL AS content_source, l.tag_id, false AS item_missing
          INTO v_link
          FROM (SELECT DISTINCT tag_id FROM new_links) AS l
         WHERE NOT EXISTS (SELECT 1 FROM public.tags t WHERE t.id = l.tag_id)
         LIMIT 1;
    END IF;
    IF FOUND THEN
        IF v_link.item_missing THEN
            RAISE EXCEPTION 'content_tags: no item with id % and source_type %',
                    v_link.content_id, v_link.content_source
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'insert the item into content_items_all before its tags';
        END IF;
        RAISE EXCEPTION 'content_tags: no tag with id %', v_link.tag_id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'insert the tag into tags first';
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_check_references() IS
    'Trigger: every written link points at an item and a tag that exist (once per statement)';
