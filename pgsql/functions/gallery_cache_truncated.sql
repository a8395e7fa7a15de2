CREATE OR REPLACE FUNCTION gallery.gallery_cache_truncated()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER TRUNCATE on content_items_all and content_tags: every cached page
    -- and every kept count (gallery_count_memo) is dropped, in the truncating
    -- transaction (a truncate bumps no version). (TRUNCATE waits for every reader of
    -- the table to end and holds back new ones until it commits, so nothing read
    -- before it can be stored after.)
    -- Cost: a delete of the whole cache and count memo.
    DELETE FROM public.gallery_page_cache;
    DELETE FROM public.gallery_count_memo;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.gallery_cache_truncated() IS
    'Trigger: drop every cached page and kept count when items or links are truncated';
