CREATE OR REPLACE FUNCTION _gallery_order_first(
    p_tags uuid[], p_match text, p_sources text[], p_viewer_id bigint,
    p_after_created_at timestamptz, p_after_id bigint, p_forward boolean, p_limit integer)
RETURNS TABLE (item_id bigint, item_source text, item_created_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
DECLARE
    v_keyset record;
    v_tag_test text;
BEGIN
    /*
    Strategy order_first: walk content_items_all in page order from the cursor
    (index (created_at DESC, id DESC) of each partition in scope, merged), test
    each item's tags, stop at p_limit matches.
      all: the item has every tag  -> one index probe of content_tags_pkey
           (content_id, content_source, tag_id = ANY(tags)) per item walked
      any: the item has one of them -> same probe, stops at the first hit
      no tags: every item in scope matches
    Cost: (items walked) x (one probe of K keys), where items walked is about
    p_limit / (share of items that match): cheap when matches are dense
    (popular tags, no tags), up to every item in scope when they are rare.
    Never builds the match set.
    */
    SELECT * INTO v_keyset FROM _gallery_keyset_sql(p_forward, p_after_id IS NOT NULL);
    v_tag_test := CASE
        WHEN cardinality(p_tags) IS NULL OR cardinality(p_tags) = 0 THEN 'true'
        WHEN p_match = 'any' THEN
            'EXISTS (SELECT 1 FROM content_tags ct WHERE ct.content_id = i.id'
            ' AND ct.content_source = i.source_type AND ct.tag_id = ANY ($4))'
        ELSE
            '(SELECT count(*) FROM content_tags ct WHERE ct.content_id = i.id'
            ' AND ct.content_source = i.source_type AND ct.tag_id = ANY ($4))'
            ' = cardinality($4)'
    END;
    RETURN QUERY EXECUTE format(
        'SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz'
        '  FROM content_items_all i'
        ' WHERE %s AND %s AND %s'
        ' ORDER BY i.created_at %s, i.id %s'
        ' LIMIT $5',
        _gallery_scope_sql(p_sources), v_keyset.keyset_predicate, v_tag_test,
        v_keyset.sort_direction, v_keyset.sort_direction)
    USING p_viewer_id, p_after_created_at, p_after_id, p_tags, p_limit;
END
$$;

COMMENT ON FUNCTION _gallery_order_first(uuid[], text, text[], bigint, timestamptz, bigint, boolean, integer) IS
    'Gallery strategy order_first: walk items newest first, test tags per item';
