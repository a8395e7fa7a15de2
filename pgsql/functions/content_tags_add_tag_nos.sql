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
    -- Cost: one pass over the statement's rows, one queue row per distinct item.
    INSERT INTO public.tag_nos_pending (content_id, content_source, added)
    SELECT l.content_id, l.content_source, array_agg(DISTINCT t.tag_no)
      FROM new_links l
      JOIN public.tags t ON t.id = l.tag_id
     GROUP BY l.content_id, l.content_source;
    IF FOUND THEN
        INSERT INTO public.tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_add_tag_nos() IS
    'Trigger: queue new links for the items'' tag_nos (applied at commit)';
