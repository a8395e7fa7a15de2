CREATE OR REPLACE FUNCTION gallery.gallery_explain(
    tags      uuid[]  DEFAULT NULL,
    cursor    text    DEFAULT NULL,
    page_size integer DEFAULT 25,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    direction text    DEFAULT 'next',
    strategy  text    DEFAULT NULL,
    measure   boolean DEFAULT true)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- the admin role calls it without reading the tables itself
SET search_path = pg_catalog, gallery, pg_temp
SET work_mem = '64MB'
SET enable_seqscan = on     -- gallery_page's settings for the explained query, this call only
SET enable_bitmapscan = on
SET enable_sort = on
SET enable_memoize = on
SET plan_cache_mode = force_generic_plan  -- as gallery_page plans its statement
SET jit = off  -- compiling a page's query costs more than running it
SET max_parallel_workers_per_gather = 0  -- starting a worker costs more than a page's walk
AS $$
DECLARE
    v_req record;
BEGIN
    /*
    Contract: for DBAs. Same arguments (and the same errors) as gallery_page;
    returns the plan decision (strategy, estimated costs, K, rarest count,
    estimate) and then EXPLAIN (ANALYZE, BUFFERS) of the statement
    gallery_page runs for this page (_gallery_page_rows with that strategy,
    inlined), planned as gallery_page plans it (a generic plan, with the same
    settings; the cursor secret a parameter the plan does not show), or plain
    EXPLAIN (the statement does not run) when measure is false.
    Cost: gallery_page's when measure is true (the query runs), plus the
    planning of the query.
    */
    SELECT * INTO v_req
      FROM _gallery_request(tags, cursor, page_size, match, sources, viewer_id, direction, strategy);
    RETURN NEXT format('strategy: %s (%s; estimated costs in µs: %s)', v_req.strategy,
                       CASE WHEN v_req.forced THEN 'forced by the strategy argument'
                            ELSE 'the cheapest by estimate' END, v_req.costs);
    RETURN NEXT format('tags: %s (rarest first), rarest on %s items, ~%s candidates',
                       v_req.k, v_req.rarest_count, v_req.estimated_candidates);
    PERFORM _gallery_apply_settings(v_req.max_work_mem_mb);  -- this call only
    IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'gallery_explained') THEN
        DEALLOCATE gallery_explained;  -- left by a call that failed half-way
    END IF;
    EXECUTE format(
        'PREPARE gallery_explained (uuid[], integer[], text, text[], text[], text[], bigint,'
        ' timestamptz, bigint, boolean, boolean, integer, text, text) AS'
        ' SELECT * FROM gallery._gallery_page_rows(%L, $1, $2, %L, $4, $5, $6, $7, $8, $9,'
        ' $10, %L, $12, $13, $14)',
        v_req.strategy, match, v_req.forward);  -- constants, as in gallery_page's statement
    RETURN QUERY EXECUTE format(
        'EXPLAIN (%s) EXECUTE gallery_explained (%L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L)',
        CASE WHEN measure THEN 'ANALYZE, BUFFERS' ELSE 'COSTS' END,
        v_req.tags, v_req.tag_nos, match, v_req.types, v_req.own, v_req.others, viewer_id,
        v_req.after_created_at, v_req.after_id, v_req.has_cursor, v_req.forward, page_size,
        v_req.filter_hash, v_req.cursor_secret);
    DEALLOCATE gallery_explained;
END
$$;

COMMENT ON FUNCTION gallery.gallery_explain(uuid[], text, integer, text, text[], bigint, text, text, boolean) IS
    'The strategy gallery_page runs for these arguments, why, and the EXPLAIN of its SQL';
