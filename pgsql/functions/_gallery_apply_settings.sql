CREATE OR REPLACE FUNCTION gallery._gallery_apply_settings(p_strategy text, p_work_mem_mb integer)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    /*
    Contract: the planner settings a strategy's query runs with, set with
    set_config(..., is_local => true). Only for gallery_page and
    gallery_explain, whose SET clauses name work_mem, enable_seqscan,
    enable_bitmapscan and enable_sort, so that PostgreSQL restores the
    caller's values when they return: nothing leaks into the session (a
    variable set here that is not in their SET clauses would leak).
      work_mem          gallery_config.max_work_mem_mb
      order_first,      sequential and bitmap scans and sorts off: the walk in
      tag_walk          keyset order, stopping at the page, is the only plan
                        left (see _gallery_order_first_sql, _gallery_tag_walk_sql)
    Cost: none.
    */
    PERFORM set_config('work_mem', p_work_mem_mb || 'MB', true);
    IF p_strategy IN ('order_first', 'tag_walk') THEN
        PERFORM set_config('enable_seqscan', 'off', true);
        PERFORM set_config('enable_bitmapscan', 'off', true);
        PERFORM set_config('enable_sort', 'off', true);
    END IF;
END
$$;

COMMENT ON FUNCTION gallery._gallery_apply_settings(text, integer) IS
    'Internal: work_mem and plan shape settings for one gallery_page call';
