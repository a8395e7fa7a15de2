CREATE OR REPLACE FUNCTION gallery.content_tags_add_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT FOR EACH STATEMENT on content_tags with the new rows as
    -- new_links: their tags' numbers are queued for the items' tag_nos (updates:
    -- content_tags_update_tag_nos); content_tags_apply_tag_nos writes them at commit.
    -- No item is locked here.
    -- Cost: one pass over the statement's rows with one tags probe each, one queue row
    -- per distinct item.
    -- (the tag's number by a primary-key probe per link: a join let PostgreSQL hash
    -- all of tags, 4.8 ms with 20,000 tags, for a statement of a few links)
    INSERT INTO public.tag_nos_pending (content_id, content_source, added)
    SELECT l.content_id, l.content_source, array_agg(DISTINCT l.tag_no)
      FROM (SELECT n.content_id, n.content_source,
                   (SELECT t.tag_no FROM public.tags t WHERE t.id = n.tag_id) AS tag_no
              FROM new_links n) AS l
     WHERE l.tag_no IS NOT NULL
     GROUP BY l.content_id, l.content_source;
    IF FOUND THEN
        INSERT INTO public.tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_add_tag_nos() IS
    'Trigger: queue new links for the items'' tag_nos (applied at commit)';
