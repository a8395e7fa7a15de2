CREATE OR REPLACE FUNCTION gallery.content_tags_update_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
SET enable_seqscan = off  -- a tags probe by primary key per link, however few the tags
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
    -- (a primary-key probe of tags per link, not a join: see content_tags_add_tag_nos)
    INSERT INTO public.tag_nos_pending (content_id, content_source, added, removed)
    SELECT c.content_id, c.content_source,
           -- (an item a link moved away from has nothing added, one it moved to nothing removed)
           coalesce(array_agg(DISTINCT t.tag_no) FILTER (WHERE c.added), '{}'),
           coalesce(array_agg(DISTINCT t.tag_no) FILTER (WHERE NOT c.added), '{}')
      FROM (SELECT n.content_id, n.content_source, n.tag_id, true AS added
              FROM (SELECT content_id, content_source, tag_id FROM new_links
                    EXCEPT
                    SELECT content_id, content_source, tag_id FROM old_links) AS n
            UNION ALL
            SELECT o.content_id, o.content_source, o.tag_id, false
              FROM (SELECT content_id, content_source, tag_id FROM old_links
                    EXCEPT
                    SELECT content_id, content_source, tag_id FROM new_links) AS o) AS c
     CROSS JOIN LATERAL (SELECT t.tag_no FROM public.tags t WHERE t.id = c.tag_id
                         LIMIT 1) AS t
     GROUP BY c.content_id, c.content_source;
    IF FOUND THEN
        INSERT INTO public.tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_update_tag_nos() IS
    'Trigger: queue the links an update took away and made for the items'' tag_nos (applied at commit)';
