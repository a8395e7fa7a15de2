CREATE OR REPLACE FUNCTION gallery._gallery_cache_touch(p_keys uuid[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
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
    -- (an update of the rows there, then an insert of the missing ones: no speculative
    -- insertion, and no one else writes this slot. A row this transaction bumped
    -- already is left alone: one bump a transaction suffices, and a bulk write of
    -- many statements leaves one row version per key, not one per statement.)
    WITH slot AS (
        SELECT coalesce((SELECT n FROM generate_series(0, 63) AS n
                          WHERE pg_try_advisory_xact_lock(1734437996, n) LIMIT 1),
                        (SELECT 0 FROM pg_advisory_xact_lock(1734437996, 0))) AS n
    ), bumped AS (
        UPDATE public.gallery_cache_versions v SET version = v.version + 1
         WHERE v.key = ANY (p_keys) AND v.slot = (SELECT slot.n FROM slot)
           AND v.xmin <> pg_current_xact_id()::xid
    )
    INSERT INTO public.gallery_cache_versions (key, slot, version)
    SELECT DISTINCT k.key, (SELECT slot.n FROM slot), 1
      FROM unnest(p_keys) AS k (key)
     WHERE k.key IS NOT NULL
       AND NOT EXISTS (SELECT FROM public.gallery_cache_versions v
                        WHERE v.key = k.key AND v.slot = (SELECT slot.n FROM slot));
END
$$;

COMMENT ON FUNCTION gallery._gallery_cache_touch(uuid[]) IS
    'Internal: bump the page cache''s versions of these tags (nil uuid: every item) in this transaction';
