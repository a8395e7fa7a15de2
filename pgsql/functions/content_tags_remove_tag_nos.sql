CREATE OR REPLACE FUNCTION gallery.content_tags_remove_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
SET enable_seqscan = off  -- a tags probe by primary key per link, however few the tags
AS $$
BEGIN
    -- Contract: AFTER DELETE FOR EACH STATEMENT on content_tags with the old rows as
    -- old_links: their tags' numbers are queued to leave the items' tag_nos (updates:
    -- content_tags_update_tag_nos); written at commit by content_tags_apply_tag_nos.
    -- Cost: one pass over the statement's rows, one queue row per distinct item.
    -- (a primary-key probe of tags per link, not a join: see content_tags_add_tag_nos)
    INSERT INTO public.tag_nos_pending (content_id, content_source, removed)
    SELECT o.content_id, o.content_source, array_agg(DISTINCT t.tag_no)
      FROM old_links o
     CROSS JOIN LATERAL (SELECT t.tag_no FROM public.tags t WHERE t.id = o.tag_id
                         LIMIT 1) AS t
     GROUP BY o.content_id, o.content_source;
    IF FOUND THEN
        INSERT INTO public.tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_remove_tag_nos() IS
    'Trigger: queue removed links for the items'' tag_nos (applied at commit)';
