CREATE OR REPLACE FUNCTION _gallery_tag_first_page_sql(
    p_matches_sql text, p_sources text[], p_forward boolean, p_has_cursor boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
DECLARE
    v_keyset record;
BEGIN
    /*
    The second half of every tag-first strategy: of the items p_matches_sql
    lists (content_id, content_source), keep those in scope and past the
    cursor, and return the first page_size ($5) in page order. PostgreSQL
    sorts them with a top-N heap: only a page of rows is kept while sorting.
    Cost: one item lookup (partition primary key) per listed item.
    */
    SELECT * INTO v_keyset FROM _gallery_keyset_sql(p_forward, p_has_cursor);
    RETURN format(
        'SELECT i.id::bigint AS item_id, i.source_type::text AS item_source,'
        '       i.created_at::timestamptz AS item_created_at'
        '  FROM content_items_all i'
        ' WHERE %s AND %s AND (i.id, i.source_type) IN (%s)'
        ' ORDER BY i.created_at %s, i.id %s'
        ' LIMIT $5',
        _gallery_scope_sql(p_sources), v_keyset.keyset_predicate, p_matches_sql,
        v_keyset.sort_direction, v_keyset.sort_direction);
END
$$;

COMMENT ON FUNCTION _gallery_tag_first_page_sql(text, text[], boolean, boolean) IS
    'Internal: one gallery page of the items a tag-first strategy lists';
