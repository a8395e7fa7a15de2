CREATE OR REPLACE FUNCTION gallery._gallery_tag_nos_pending()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Contract: whether the current transaction has changed links whose tag_nos
    it has not written yet (they are written when it commits:
    content_tags_apply_tag_nos). Its reads by tag_nos then lack its own
    links, while the page cache's versions already count them: what it reads
    must not be kept for other transactions (the page cache, the count memo).
    Cost: nothing for a transaction that has written nothing; otherwise one
    primary-key probe of tag_nos_pending_xact.
    */
    SELECT EXISTS (SELECT 1 FROM public.tag_nos_pending_xact p
                    WHERE p.xact = pg_current_xact_id_if_assigned())
$$;

COMMENT ON FUNCTION gallery._gallery_tag_nos_pending() IS
    'Internal: whether this transaction has link changes whose tag_nos are written at its commit';
