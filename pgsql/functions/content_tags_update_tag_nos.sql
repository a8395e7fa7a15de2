CREATE OR REPLACE FUNCTION gallery.content_tags_update_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER UPDATE FOR EACH STATEMENT on content_tags with the old rows as
    -- old_links and the new ones as new_links: the links the update took away (their
    -- key, content_id, content_source, tag_id, in old_links only) are queued to leave
    -- the items' tag_nos, those it made (in new_links only) to join them; written at
    -- commit by content_tags_apply_tag_nos. An update that leaves every key as it was
    -- (a link's created_at taking its item's) queues nothing.
    -- Cost: one pass over the statement's rows (two hashed set differences), one queue
    -- row per item whose tags changed.
    INSERT INTO public.tag_nos_pending (content_id, content_source, added, removed)
    SELECT d.content_id, d.content_source,
           array_agg(DISTINCT d.tag_no) FILTER (WHERE d.added),
           array_agg(DISTINCT d.tag_no) FILTER (WHERE NOT d.added)
      FROM (SELECT c.content_id, c.content_source, c.added,
                   (SELECT t.tag_no FROM public.tags t WHERE t.id = c.tag_id) AS tag_no
              FROM (SELECT n.content_id, n.content_source, n.tag_id, true AS added
              FROM (SELECT content_id, content_source, tag_id FROM new_links
                    EXCEPT
                    SELECT content_id, content_source, tag_id FROM old_links) AS n
            UNION ALL
            SELECT o.content_id, o.content_source, o.tag_id, false
              FROM (SELECT content_id, content_source, tag_id FROM old_links
                    EXCEPT
                    SELECT content_id, content_source, tag_id FROM new_links) AS o) AS c) AS d
     WHERE d.tag_no IS NOT NULL
     GROUP BY d.content_id, d.content_source;
    IF FOUND THEN
        INSERT INTO public.tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_update_tag_nos() IS
    'Trigger: queue the links an update took away and made for the items'' tag_nos (applied at commit)';
