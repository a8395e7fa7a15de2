CREATE OR REPLACE FUNCTION gallery._gallery_cache_touch(p_keys uuid[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_slot integer;
    v_bumped bigint;
BEGIN
    /*
    Contract: for the page cache's write triggers (content_tags_touch_cache,
    content_items_all_touch_cache), in the writer's transaction: bumps the
    version (gallery_cache_versions) of each key, a tag's id or the nil uuid
    for "every item", so that no cached page read before the write is served
    once it has committed (gallery_page compares an entry's versions with the
    current ones; a rollback undoes the bump).
    Writers never wait for each other here: each bumps the rows of a slot
    (0..63) it holds a transaction advisory lock on, (1734437996, slot),
    taking the first free one (or one it holds already), so a row is only
    ever updated by the one transaction holding its slot. Past 64 concurrent
    writers the next one waits for slot 0.
    Cost: a few advisory lock tries, one index probe and update per distinct key
    (an insert the first time a slot bumps it), once a transaction.
    */
    v_slot := coalesce((SELECT n FROM generate_series(0, 63) AS n
                         WHERE pg_try_advisory_xact_lock(1734437996, n) LIMIT 1),
                       (SELECT 0 FROM pg_advisory_xact_lock(1734437996, 0)));
    -- An update of the rows there (no speculative insertion: no one else writes this
    -- slot), leaving alone those this transaction bumped already: one bump a
    -- transaction suffices, and a bulk write of many statements leaves one row version
    -- per key. Then, only if some key was not bumped, an insert of the missing rows.
    UPDATE public.gallery_cache_versions v SET version = v.version + 1
     WHERE v.key = ANY (p_keys) AND v.slot = v_slot
       AND v.xmin <> pg_current_xact_id()::xid;
    GET DIAGNOSTICS v_bumped = ROW_COUNT;
    IF v_bumped < cardinality(p_keys) THEN
        INSERT INTO public.gallery_cache_versions (key, slot, version)
        SELECT DISTINCT k.key, v_slot, 1
          FROM unnest(p_keys) AS k (key)
         WHERE k.key IS NOT NULL
           AND NOT EXISTS (SELECT FROM public.gallery_cache_versions v
                            WHERE v.key = k.key AND v.slot = v_slot);
    END IF;
END
$$;

COMMENT ON FUNCTION gallery._gallery_cache_touch(uuid[]) IS
    'Internal: bump the page cache''s versions of these tags (nil uuid: every item) in this transaction';
