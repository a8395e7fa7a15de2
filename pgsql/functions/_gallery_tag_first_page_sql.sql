CREATE OR REPLACE FUNCTION gallery._gallery_tag_first_page_sql(
    p_matches_sql text, p_sources text[], p_forward boolean, p_has_cursor boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_keyset record;
BEGIN
    /*
    The second half of every tag-first strategy: of the items p_matches_sql
    lists (distinct (content_id, content_source) pairs), keep those in scope and past the
    cursor, and return the first page_size ($5) in page order. PostgreSQL
    sorts them with a top-N heap: only a page of rows is kept while sorting.
    The shape is forced on purpose (a MATERIALIZED list, each item looked up
    by a LATERAL subquery that LIMIT 1 keeps from being flattened): left to
    itself, PostgreSQL, whose estimate for a tag it did not sample is the
    average tag's, turns the query around into a walk of the keyset index
    probing the list per item: 1.1 s to 42 s at full scale for a tag on 500
    of 1.2 M items, where this shape takes milliseconds.
    The final query of each tag-first strategy (self_join, group_having,
    two_phase, tag_union), pretty-printed for every match, scope, direction
    and cursor: tests/golden/strategies/<strategy>-*.sql.
    Cost: one item lookup (partition primary key) per listed item.
    */
    SELECT * INTO v_keyset FROM _gallery_keyset_sql(p_forward, p_has_cursor);
    RETURN format(
        'WITH m AS MATERIALIZED (%s)'
        'SELECT i.item_id, i.item_source, i.item_created_at'
        '  FROM m CROSS JOIN LATERAL ('
        '       SELECT i.id::bigint AS item_id, i.source_type::text AS item_source,'
        '              i.created_at::timestamptz AS item_created_at'
        '         FROM public.content_items_all i'
        '        WHERE i.id = m.content_id AND i.source_type = m.content_source AND %s AND %s'
        '        LIMIT 1) AS i'
        ' ORDER BY i.item_created_at %s, i.item_id %s'
        ' LIMIT $5',
        p_matches_sql, _gallery_scope_sql(p_sources), v_keyset.keyset_predicate,
        v_keyset.sort_direction, v_keyset.sort_direction);
END
$$;

COMMENT ON FUNCTION gallery._gallery_tag_first_page_sql(text, text[], boolean, boolean) IS
    'Internal: one gallery page of the items a tag-first strategy lists';
