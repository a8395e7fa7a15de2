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
SET enable_seqscan = on     -- _gallery_apply_settings may turn these off for the call
SET enable_bitmapscan = on
SET enable_sort = on
SET jit = off  -- compiling a page's query costs more than running it
SET max_parallel_workers_per_gather = 0  -- starting a worker costs more than a page's walk
AS $$
DECLARE
    v_req record;
    v_sql text;
BEGIN
    /*
    Contract: for DBAs. Same arguments (and the same errors) as gallery_page;
    returns the plan decision (strategy, why, K, rarest count, estimate) and
    then EXPLAIN (ANALYZE, BUFFERS) of the SQL that strategy runs for this
    page, or plain EXPLAIN (the query does not run) when measure is false.
    Cost: gallery_page's when measure is true (the query runs).
    */
    SELECT * INTO v_req
      FROM _gallery_request(tags, cursor, page_size, match, sources, viewer_id, direction, strategy);
    PERFORM _gallery_apply_settings(v_req.strategy, v_req.max_work_mem_mb);  -- this call only
    RETURN NEXT format('strategy: %s (%s)', v_req.strategy, v_req.reason);
    RETURN NEXT format('tags: %s (rarest first), rarest on %s items, ~%s candidates',
                       v_req.k, v_req.rarest_count, v_req.estimated_candidates);
    v_sql := _gallery_strategy_sql(v_req.strategy, match, v_req.k, v_req.sources,
                                   v_req.forward, v_req.after_id IS NOT NULL, v_req.use_tag_array);
    RETURN QUERY EXECUTE format('EXPLAIN (%s) %s',  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
                                CASE WHEN measure THEN 'ANALYZE, BUFFERS' ELSE 'COSTS' END, v_sql)
        USING viewer_id, v_req.after_created_at, v_req.after_id, v_req.tags, page_size,
              v_req.seed_tags, v_req.tag_nos;
END
$$;

COMMENT ON FUNCTION gallery.gallery_explain(uuid[], text, integer, text, text[], bigint, text, text, boolean) IS
    'The strategy gallery_page runs for these arguments, why, and the EXPLAIN of its SQL';
