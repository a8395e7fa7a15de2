CREATE OR REPLACE FUNCTION gallery._gallery_keyset_sql(p_forward boolean, p_has_cursor boolean)
RETURNS TABLE (keyset_predicate text, sort_direction text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Contract: the keyset pieces of a gallery query on alias i, with the cursor's
    created_at as $2 and id as $3. Forward (direction 'next') walks to older
    items: (created_at, id) < cursor, newest first. Backward ('prev') walks to
    newer items: (created_at, id) > cursor, oldest first (gallery_page turns
    the page around). Without a cursor the predicate is true.
    The row comparison is what lets PostgreSQL start an index scan of
    (created_at DESC, id DESC) at the cursor. Cost: none.
    */
    SELECT CASE WHEN NOT p_has_cursor THEN 'true'
                WHEN p_forward THEN '(i.created_at, i.id) < ($2, $3)'
                ELSE '(i.created_at, i.id) > ($2, $3)' END,
           CASE WHEN p_forward THEN 'DESC' ELSE 'ASC' END
$$;

COMMENT ON FUNCTION gallery._gallery_keyset_sql(boolean, boolean) IS
    'Internal: keyset predicate and sort direction for a gallery page';
