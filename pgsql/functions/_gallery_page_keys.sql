CREATE OR REPLACE FUNCTION _gallery_page_keys(
    p_matches_sql text, p_tags uuid[], p_sources text[], p_viewer_id bigint,
    p_after_created_at timestamptz, p_after_id bigint, p_forward boolean, p_limit integer,
    p_seed_tags uuid[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, item_source text, item_created_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
DECLARE
    v_keyset record;
BEGIN
    /*
    The second half of every tag-first strategy: of the items listed by
    p_matches_sql (a query of (content_id, content_source) built by the
    strategy from constants, with the tags as $4 and seed tags as $6), keep
    those in scope and past the cursor, and return the first p_limit in page
    order. PostgreSQL sorts with a top-N heap: only p_limit rows are kept.
    Cost: one item lookup (partition primary key) per listed item.
    */
    SELECT * INTO v_keyset FROM _gallery_keyset_sql(p_forward, p_after_id IS NOT NULL);
    RETURN QUERY EXECUTE format(
        'SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz'
        '  FROM content_items_all i'
        ' WHERE %s AND %s AND (i.id, i.source_type) IN (%s)'
        ' ORDER BY i.created_at %s, i.id %s'
        ' LIMIT $5',
        _gallery_scope_sql(p_sources), v_keyset.keyset_predicate, p_matches_sql,
        v_keyset.sort_direction, v_keyset.sort_direction)
    USING p_viewer_id, p_after_created_at, p_after_id, p_tags, p_limit, p_seed_tags;
END
$$;

COMMENT ON FUNCTION _gallery_page_keys(text, uuid[], text[], bigint, timestamptz, bigint, boolean, integer, uuid[]) IS
    'Internal: one gallery page of the items a tag-first strategy lists';
