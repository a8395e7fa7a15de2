CREATE OR REPLACE FUNCTION gallery._gallery_strategy_sql(
    p_strategy text, p_match text, p_k integer, p_sources text[],
    p_forward boolean, p_has_cursor boolean, p_use_tag_array boolean)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Contract: the query a strategy runs for one page, returning (item_id,
    item_source, item_created_at) in page order, with parameters
      $1 viewer_id, $2 cursor created_at, $3 cursor id, $4 tags (rarest
      first), $5 page size, $6 seed tags (two_phase), $7 the tags' numbers
      (tags.tag_no).
    The text comes from constants only; every value is a parameter
    (EXECUTE ... USING), planned for the values of each call. One branch per
    strategy of the catalogue (_gallery_strategies, which says which matches
    each serves: _gallery_check_args refuses the others); NULL for a name
    that is not a strategy. The final text of every strategy, match, scope,
    direction and cursor is in tests/golden/strategies/, pretty-printed.
    Cost: none (builds text).
    */
    SELECT CASE p_strategy
        WHEN 'order_first' THEN
            _gallery_order_first_sql(p_match, p_k, p_sources, p_forward, p_has_cursor,
                                     p_use_tag_array)
        WHEN 'tag_array' THEN
            _gallery_tag_array_sql(p_match, p_sources, p_forward, p_has_cursor)
        WHEN 'tag_walk' THEN
            _gallery_tag_walk_sql(p_match, p_k, p_sources, p_forward, p_has_cursor)
        WHEN 'self_join' THEN
            _gallery_tag_first_page_sql(_gallery_self_join_sql(p_k),
                                        p_sources, p_forward, p_has_cursor)
        WHEN 'group_having' THEN
            _gallery_tag_first_page_sql(_gallery_group_having_sql(),
                                        p_sources, p_forward, p_has_cursor)
        WHEN 'two_phase' THEN
            _gallery_tag_first_page_sql(_gallery_two_phase_sql(),
                                        p_sources, p_forward, p_has_cursor)
        WHEN 'tag_union' THEN
            _gallery_tag_first_page_sql(_gallery_tag_union_sql(),
                                        p_sources, p_forward, p_has_cursor)
    END
$$;

COMMENT ON FUNCTION gallery._gallery_strategy_sql(text, text, integer, text[], boolean, boolean, boolean) IS
    'Internal: the SQL of one gallery strategy for one page';
