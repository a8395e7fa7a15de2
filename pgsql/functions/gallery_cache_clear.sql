CREATE OR REPLACE FUNCTION gallery.gallery_cache_clear(tag uuid DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- the admin role has no right on gallery_page_cache itself
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_cleared bigint;
BEGIN
    /*
    Contract (admin role; docs/operations.md): drops cached pages: all of
    them (tag NULL), or those of the filters that name the tag. Returns how
    many. Never needed for correctness (writes and knob changes invalidate
    what they change, in their own transaction): for freeing space, or
    after changing data with the write triggers disabled.
    Cost: one pass over the cache (it holds at most cache_max_entries pages).
    */
    DELETE FROM public.gallery_page_cache e WHERE tag IS NULL OR tag = ANY (e.guard);
    GET DIAGNOSTICS v_cleared = ROW_COUNT;
    RETURN v_cleared;
END
$$;

COMMENT ON FUNCTION gallery.gallery_cache_clear(uuid) IS
    'Drop cached gallery pages: all, or those filtered by one tag (admin)';
