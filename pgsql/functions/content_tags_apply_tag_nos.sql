CREATE OR REPLACE FUNCTION gallery.content_tags_apply_tag_nos()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT FOR EACH ROW on tag_nos_pending_xact, DEFERRABLE INITIALLY
    -- DEFERRED: once per transaction that changed links, just before it commits (or
    -- at SET CONSTRAINTS content_tags_tag_nos_at_commit IMMEDIATE). Locks the items
    -- with queued changes in (id, source_type) order, then applies the changes: per
    -- item and tag number, the last queued change wins (a link inserted, deleted and
    -- inserted again is there); a number whose tag no longer exists is removed. Each
    -- new array is computed from the item row as it is now, so concurrent writers
    -- never lose each other's tags. Deletes what it applied.
    -- With the items locked, their links' created_at and is_private are aligned with
    -- the item's as they are now (a link inserted while another transaction re-dated its
    -- item or changed its privacy read them before that commit; a writer may have passed
    -- them: content_tags_take_created_at).
    -- Cost: one primary-key probe and one update per item with queued changes, and a
    -- read of its links (rewritten only where a date or privacy differs: after such a
    -- race).
    DELETE FROM public.tag_nos_pending_xact WHERE xact = NEW.xact;
    PERFORM 1
       FROM public.content_items_all i
      WHERE (i.id, i.source_type) IN (SELECT p.content_id, p.content_source
                                        FROM public.tag_nos_pending p WHERE p.xact = NEW.xact)
      ORDER BY i.id, i.source_type
        FOR NO KEY UPDATE OF i;
    -- (a statement's triggers fire even when it updates nothing: update only on a mismatch)
    IF EXISTS (SELECT 1
                 FROM public.tag_nos_pending p
                 JOIN public.content_items_all i
                   ON i.id = p.content_id AND i.source_type = p.content_source
                 JOIN public.content_tags ct
                   ON ct.content_id = i.id AND ct.content_source = i.source_type
                WHERE p.xact = NEW.xact AND (ct.created_at IS DISTINCT FROM i.created_at
                                             OR ct.is_private <> i.is_private)) THEN
        UPDATE public.content_tags ct
           SET created_at = i.created_at, is_private = i.is_private
          FROM public.content_items_all i
         WHERE (i.id, i.source_type) IN (SELECT p.content_id, p.content_source
                                           FROM public.tag_nos_pending p WHERE p.xact = NEW.xact)
           AND ct.content_id = i.id AND ct.content_source = i.source_type
           AND (ct.created_at IS DISTINCT FROM i.created_at OR ct.is_private <> i.is_private);
    END IF;
    WITH queued AS (
        DELETE FROM public.tag_nos_pending p WHERE p.xact = NEW.xact
        RETURNING p.seq, p.content_id, p.content_source, p.added, p.removed
    ), last_change AS (
        SELECT DISTINCT ON (q.content_id, q.content_source, c.num)
               q.content_id, q.content_source, c.num,
               c.added AND EXISTS (SELECT 1 FROM public.tags t WHERE t.tag_no = c.num) AS added
          FROM queued q
         CROSS JOIN LATERAL (SELECT x, true FROM unnest(q.added) AS x
                             UNION ALL
                             SELECT x, false FROM unnest(q.removed) AS x) AS c (num, added)
         ORDER BY q.content_id, q.content_source, c.num, q.seq DESC
    ), net AS (
        SELECT content_id, content_source,
               coalesce(array_agg(num) FILTER (WHERE added), '{}') AS plus,
               coalesce(array_agg(num) FILTER (WHERE NOT added), '{}') AS minus
          FROM last_change
         GROUP BY content_id, content_source
    )
    UPDATE public.content_items_all i
       SET tag_nos = ARRAY(SELECT DISTINCT x FROM unnest(i.tag_nos || n.plus) AS x
                            WHERE x <> ALL (n.minus) ORDER BY x)
      FROM net n
     WHERE i.id = n.content_id AND i.source_type = n.content_source;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.content_tags_apply_tag_nos() IS
    'Trigger: apply the transaction''s queued tag_nos changes, items in id order, before commit';
