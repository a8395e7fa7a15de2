CREATE OR REPLACE FUNCTION gallery._gallery_order_first_sql(
    p_match text, p_k integer, p_sources text[], p_forward boolean, p_has_cursor boolean,
    p_use_tag_array boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_keyset record;
BEGIN
    /*
    Strategy order_first: walk content_items_all in page order from the cursor
    (each partition's index (created_at DESC, id DESC), merged), test each
    item's tags, stop at the page size ($5). Tags are $4, their numbers $7.
    With p_use_tag_array (gallery_config.enable_tag_array) the test reads the
    item row the walk already holds: tag_nos @> $7 (all) or && $7 (any).
    gallery_page runs this query with sequential and bitmap scans and sorts
    off: the walk is then the only plan left (left free, PostgreSQL read the
    whole table and sorted it for a tag its own statistics called rare: 162
    ms instead of a walk of a few rows; with only scans off, it still read a
    whole index in parallel and sorted it for tags it thought rare together:
    1,069 ms for a walk of ~8,000 items). Without it, per item walked:
      all: one probe of content_tags_pkey (content_id, content_source,
           tag_id = ANY (tags)), counting the tags it finds
      any: the same probe, stopping at the first tag found
      no tags: every item in scope
    The whole query:
      SELECT i.id, i.source_type, i.created_at   -- item_id, item_source, item_created_at
        FROM public.content_items_all i
       WHERE <scope: sources, viewer $1>       -- _gallery_scope_sql
         AND <keyset: past the cursor $2, $3>  -- _gallery_keyset_sql; true on a first page
         AND <tag test>                        -- no tags: true; tag_nos @> $7 (all) or && $7
                                               -- (any); enable_tag_array off: the probes above
       ORDER BY i.created_at DESC, i.id DESC   -- prev: ASC, ASC
       LIMIT $5
    Every final text (each match, scope, direction, cursor; no tags; with
    enable_tag_array off), pretty-printed: tests/golden/strategies/order_first-*.sql.
    Cost: (items walked) x (an array test, or one probe of K keys), items
    walked being about page_size / (share of items that match): cheap when
    matches are dense (popular tags, no tag filter), up to every item in
    scope when they are rare. Never builds the match set.
    */
    SELECT * INTO v_keyset FROM _gallery_keyset_sql(p_forward, p_has_cursor);
    RETURN format(
        'SELECT i.id::bigint AS item_id, i.source_type::text AS item_source,'
        '       i.created_at::timestamptz AS item_created_at'
        '  FROM public.content_items_all i'
        ' WHERE %s AND %s AND %s'
        ' ORDER BY i.created_at %s, i.id %s'
        ' LIMIT $5',
        _gallery_scope_sql(p_sources), v_keyset.keyset_predicate,
        CASE WHEN p_k = 0 THEN 'true'
             WHEN p_use_tag_array THEN
                 format('i.tag_nos %s $7', CASE WHEN p_match = 'any' THEN '&&' ELSE '@>' END)
             ELSE format('%s (SELECT 1 FROM unnest($4) AS t(tag) WHERE %s (SELECT 1'
                         ' FROM public.content_tags ct WHERE ct.content_id = i.id'
                         ' AND ct.content_source = i.source_type AND ct.tag_id = t.tag))',
                         CASE WHEN p_match = 'any' THEN 'EXISTS' ELSE 'NOT EXISTS' END,
                         CASE WHEN p_match = 'any' THEN 'EXISTS' ELSE 'NOT EXISTS' END)
        END,
        v_keyset.sort_direction, v_keyset.sort_direction);
END
$$;

COMMENT ON FUNCTION gallery._gallery_order_first_sql(text, integer, text[], boolean, boolean, boolean) IS
    'Gallery strategy order_first: walk items newest first, test tags per item';
