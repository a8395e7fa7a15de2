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
    Cost: a few advisory lock tries, one upsert per distinct key.
    */
    INSERT INTO public.gallery_cache_versions AS v (key, slot, version)
    SELECT DISTINCT k.key, s.slot, 1
      FROM unnest(p_keys) AS k (key),
           (SELECT coalesce((SELECT n FROM generate_series(0, 63) AS n
                              WHERE pg_try_advisory_xact_lock(1734437996, n) LIMIT 1),
                            (SELECT 0 FROM pg_advisory_xact_lock(1734437996, 0))) AS slot) AS s
     WHERE k.key IS NOT NULL
        ON CONFLICT (key, slot) DO UPDATE SET version = v.version + 1;
END
$$;

COMMENT ON FUNCTION gallery._gallery_cache_touch(uuid[]) IS
    'Internal: bump the page cache''s versions of these tags (nil uuid: every item) in this transaction';
