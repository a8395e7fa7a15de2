CREATE OR REPLACE FUNCTION gallery._gallery_cache_touch(p_keys uuid[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    /*
    Contract: called by the write triggers, in the writer's transaction: bumps
    the page cache's version of each key (a tag id, or the nil uuid for
    "every item"), so that no cached page read from the data before this
    write is served once the write has committed (gallery_page compares an
    entry's versions with the current ones). A rollback undoes the bump.
    Writers never wait for each other here: each bumps the rows of a slot
    (0..63) it holds a transaction advisory lock on, (1734437996, slot),
    taking the first free one (or one it holds already). Past 64 concurrent
    writers the next one waits for slot 0.
    Cost: a few advisory lock tries and one upsert per key.
    */
    INSERT INTO public.gallery_cache_versions AS v (key, slot, version)
    SELECT k.key, s.slot, 1
      FROM (SELECT DISTINCT key FROM unnest(p_keys) AS key WHERE key IS NOT NULL) AS k,
           (SELECT coalesce((SELECT n FROM generate_series(0, 63) AS n
                              WHERE pg_try_advisory_xact_lock(1734437996, n) LIMIT 1),
                            (SELECT 0 FROM pg_advisory_xact_lock(1734437996, 0))) AS slot) AS s
     ORDER BY k.key
        ON CONFLICT (key, slot) DO UPDATE SET version = v.version + 1;
END
$$;

COMMENT ON FUNCTION gallery._gallery_cache_touch(uuid[]) IS
    'Internal: bump the page cache''s versions of these tags (nil uuid: every item) in this transaction';
