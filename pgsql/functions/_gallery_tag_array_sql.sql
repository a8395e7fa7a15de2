CREATE OR REPLACE FUNCTION gallery._gallery_tag_array_sql(
    p_match text, p_sources text[], p_forward boolean, p_has_cursor boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_keyset record;
BEGIN
    /*
    Strategy tag_array (match all or any): the items of the tags ($7) from
    the GIN index on content_items_all.tag_nos, then the page in page order.
      all: tag_nos @> $7; the GIN scan steps through the rarest tag's
           postings and skips ahead in the others' (no full read of a
           popular tag's list)
      any: tag_nos && $7, the union of the tags' postings
    The candidates are MATERIALIZED, so that PostgreSQL cannot walk the
    keyset index instead (its estimate for a rare tag is often far off);
    scope and cursor are tested in the same rows; a top-N sort keeps a page.
    The whole query:
      WITH c AS MATERIALIZED (
          SELECT i.id, i.source_type, i.created_at   -- item_id, item_source, item_created_at
            FROM public.content_items_all i
           WHERE i.tag_nos @> $7                    -- any: &&
             AND <scope: sources, viewer $1> AND <keyset: past the cursor $2, $3>)
      SELECT c.item_id, c.item_source, c.item_created_at FROM c
       ORDER BY c.item_created_at DESC, c.item_id DESC   -- prev: ASC, ASC
       LIMIT $5
    Every final text (each match, scope, direction, cursor), pretty-printed:
    tests/golden/strategies/tag_array-*.sql.
    Cost: all: about the rarest tag's postings times K; any: the tags'
    postings; then one heap row per match and a top-N sort of those in scope.
    */
    SELECT * INTO v_keyset FROM _gallery_keyset_sql(p_forward, p_has_cursor);
    RETURN format(
        'WITH c AS MATERIALIZED ('
        '    SELECT i.id::bigint AS item_id, i.source_type::text AS item_source,'
        '           i.created_at::timestamptz AS item_created_at'
        '      FROM public.content_items_all i'
        '     WHERE %s AND %s AND %s)'
        'SELECT c.item_id, c.item_source, c.item_created_at FROM c'
        ' ORDER BY c.item_created_at %s, c.item_id %s'
        ' LIMIT $5',
        CASE WHEN p_match = 'any' THEN 'i.tag_nos && $7' ELSE 'i.tag_nos @> $7' END,
        _gallery_scope_sql(p_sources), v_keyset.keyset_predicate,
        v_keyset.sort_direction, v_keyset.sort_direction);
END
$$;

COMMENT ON FUNCTION gallery._gallery_tag_array_sql(text, text[], boolean, boolean) IS
    'Gallery strategy tag_array: candidates from the GIN index on tag_nos, then a page';
