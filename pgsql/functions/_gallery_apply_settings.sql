CREATE OR REPLACE FUNCTION gallery._gallery_apply_settings(p_work_mem_mb integer)  -- noqa: PD003 inlined into gallery_page's expression, whose search_path is pinned; a SET clause would stop the inlining
RETURNS text
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$
    /*
    Contract: the planner settings a page's statement runs with, set with
    set_config(..., is_local => true). Only for gallery_page and
    gallery_explain, whose SET clauses name work_mem, enable_seqscan,
    enable_bitmapscan, enable_sort and enable_memoize, so that PostgreSQL restores the
    caller's values when they return: nothing leaks into the session (a
    variable set here that is not in their SET clauses would leak).
      work_mem          gallery_config.max_work_mem_mb
      enable_seqscan,   off: every strategy's query has its plan (an ordered
      enable_bitmapscan walk stopping at the page; tag_array's GIN scan and
      enable_sort       top-N sort, which it has no way around) and
                        PostgreSQL's estimates cannot turn a walk into a
                        read of a whole table or index and a sort (162 ms
                        instead of a walk of a few rows, seen on a tag its
                        statistics called rare)
      enable_memoize    off: the walks probe each item once, and a Memoize
                        node costs more to start (its hash table) than it
                        saves (~0.1 ms a page)
    Set after the checks and the planner's queries, which run with the
    caller's settings. Returns the settings' new values, joined (nothing
    to read). (SQL: inlined into the caller's PERFORM, no function call of
    its own.) Cost: none.
    */
    SELECT concat_ws(' ', set_config('work_mem', p_work_mem_mb || 'MB', true),
                     set_config('enable_seqscan', 'off', true),
                     set_config('enable_bitmapscan', 'off', true),
                     set_config('enable_sort', 'off', true),
                     set_config('enable_memoize', 'off', true))
$$;

COMMENT ON FUNCTION gallery._gallery_apply_settings(integer) IS
    'Internal: work_mem and plan shape settings for one gallery page statement';
