CREATE OR REPLACE FUNCTION gallery.content_tags_add_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
SET enable_seqscan = off  -- a tags probe by primary key per link, however few the tags
AS $$
BEGIN
    -- Contract: AFTER INSERT FOR EACH STATEMENT on content_tags with the new rows as
    -- new_links: their tags' numbers are queued for the items' tag_nos (updates:
    -- content_tags_update_tag_nos); content_tags_apply_tag_nos writes them at commit.
    -- No item is locked here.
    -- Cost: one pass over the statement's rows with one tags probe each, one queue row
    -- per distinct item.
    -- (the tag's number by a primary-key probe per link: a join let PostgreSQL hash
    -- all of tags, 4.8 ms with 20,000 tags, for a statement of a few links; a scalar
    -- subquery in the select list ran twice per link, and with few tags as a scan of
    -- them: 0.8 ms for 75 links with 110 tags, 0.15 ms as here)
    INSERT INTO public.tag_nos_pending (content_id, content_source, added)
    SELECT n.content_id, n.content_source, array_agg(DISTINCT t.tag_no)
      FROM new_links n
     CROSS JOIN LATERAL (SELECT t.tag_no FROM public.tags t WHERE t.id = n.tag_id
                         LIMIT 1) AS t  -- (LIMIT: a subquery per link, never a join)
     GROUP BY n.content_id, n.content_source;
    IF FOUND THEN
        INSERT INTO public.tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_add_tag_nos() IS
    'Trigger: queue new links for the items'' tag_nos (applied at commit)';
