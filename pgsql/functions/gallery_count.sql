CREATE OR REPLACE FUNCTION gallery.gallery_count(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    cap       integer DEFAULT 10000,
    mode      text    DEFAULT 'exact')
RETURNS TABLE (items bigint, exact boolean, low bigint, high bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
SET max_parallel_workers_per_gather = 0  -- a Gather costs more than these reads
SET enable_seqscan = on  -- _gallery_matches_sql turns scans off for its reading:
SET enable_bitmapscan = on  -- these clauses end that with the call
SET enable_indexscan = on
AS $$
#variable_conflict use_variable
DECLARE
    v_sources text[];
    v_tag_nos integer[];
    v_cfg public.gallery_config;
    v_est record;
    v_plan record;  -- the planner's pick for reading cap + 1 matches
    c_scan_us_per_item constant double precision := 0.4;  -- a sequential scan, measured at full scale
    v_budget bigint;
    v_found bigint;
BEGIN
    /*
    Contract: how many items gallery_page would return over all its pages for
    these filters (same parameters, defaults and errors as gallery_page:
    _gallery_check_args), counted as this viewer may see them (others'
    private items never), the way a UI shows it, like Elasticsearch's
    track_total_hits: exact = true and the number when there are at most cap;
    exact = false and items = cap ("at least cap") when there are more;
    low..high is where the count is: low = high = items when exact, low =
    cap and high NULL past the cap.
    mode 'estimate' asks for speed: items is an estimate from the stats
    sample (_gallery_count_estimate: co-occurrence, privacy and the
    viewer's own items as sampled, not a product of per-tag shares), exact =
    false, and low..high its ~95% interval (the Wilson score interval of
    the sampled share); as of the last gallery_stats_refresh(). When the
    exact per-tag counts allow at most 200 matches, or no sample was drawn
    yet, it counts as mode 'exact' does (exact = true): the rarest tag's
    ~200 index entries are all the GIN scan reads then. (A small count of
    popular tags is not counted: their posting lists take milliseconds.)
    Errors (22023): those of gallery_page's filters; cap outside
    1..1000000; mode other than 'exact' or 'estimate'.
    Cost: exact: the planner's (_gallery_choose, one stats probe per tag);
    where it estimates more than 2 x cap matches, a sequential scan of at
    most as many items as should hold 2 x (cap + 1) matches (~0.4 µs an
    item), when half of that is cheaper than its strategy: done if it finds
    cap + 1;
    then at most cap + 1 matches read the way its strategy would read a page
    of that many rows (_gallery_matches_sql): a walk of the feed or of the
    rarest tag's postings that stops at cap + 1 matches, or the matches from
    the GIN index on tag_nos (which reads every posting of the tags), each
    as bounded by the planner's estimates; with no tags, the first cap + 1
    items in scope in any order.
    estimate: K + 4 primary-key probes and bit operations over the sample,
    ~0.1-0.3 ms whatever matches; or at most ~200 rows counted.
    */
    IF cap IS NULL OR cap NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'cap must be between 1 and 1000000, got %', coalesce(cap::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'cap => 10000 counts exactly up to 10,000 and says "at least" past it';
    END IF;
    IF mode IS NULL OR mode NOT IN ('exact', 'estimate') THEN
        RAISE EXCEPTION 'mode must be ''exact'' or ''estimate'', got %', coalesce(quote_literal(mode), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'mode => ''estimate'' answers in well under a millisecond with a ~95% interval (low, high)';
    END IF;
    SELECT * INTO v_cfg FROM public.gallery_config;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, 1, NULL, 'strategy',
                                     v_cfg.max_tags);
    v_tag_nos := _gallery_tag_nos(tags, match);
    IF v_tag_nos IS NULL OR (cardinality(tags) > 0 AND cardinality(v_tag_nos) = 0) THEN
        RETURN QUERY SELECT 0::bigint, true, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    IF mode = 'estimate' THEN
        SELECT * INTO v_est FROM _gallery_count_estimate(v_tag_nos, match, v_sources, viewer_id);
        IF FOUND AND v_est.upper_bound > 200 THEN
            RETURN QUERY SELECT v_est.items, false, v_est.low, v_est.high;
            RETURN;
        END IF;
        -- at most ~200 matches (or no sample yet): counting is as cheap
    END IF;
    SELECT p.strategy, p.tag_ids, p.costs ->> p.strategy AS cost,
           p.estimated_candidates, p.items_in_scope
      INTO v_plan
      FROM _gallery_choose_for(tags, match, v_sources, cap + 1) AS p;
    -- Where the tags are on a large share of the items, "at least cap" is found
    -- fastest by reading the table in its own order: tried first, with a budget of
    -- items that should hold twice the matches needed, when reading the half of it
    -- that should do costs less than the planner's strategy; short of cap + 1
    -- matches, the strategy counts (at most the budget spent on top of it).
    IF cardinality(v_tag_nos) > 0 AND v_plan.estimated_candidates > 2 * cap THEN
        v_budget := ceil(2.0 * (cap + 1) * v_plan.items_in_scope / v_plan.estimated_candidates);
        IF v_budget / 2 * c_scan_us_per_item < v_plan.cost::double precision THEN
            EXECUTE format('SELECT count(*) FROM (%s) AS m',  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
                           _gallery_matches_sql('scan', match, v_sources, true, false))
               INTO v_found
              USING viewer_id, v_tag_nos, cap + 1, v_plan.tag_ids, v_budget;
            IF v_found > cap THEN
                RETURN QUERY SELECT cap::bigint, false, cap::bigint, NULL::bigint;
                RETURN;
            END IF;
        END IF;
    END IF;
    -- the first cap + 1 matches, read the way the planner's strategy for a page of
    -- that many rows would read them (bounded by its estimates)
    RETURN QUERY EXECUTE format(  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
        'SELECT least(count(*), $3 - 1)::bigint, count(*) < $3, least(count(*), $3 - 1)::bigint,'
        '       CASE WHEN count(*) < $3 THEN count(*) END::bigint'
        '  FROM (%s) AS m',
        _gallery_matches_sql(v_plan.strategy, match, v_sources, cardinality(v_tag_nos) > 0, false))
      USING viewer_id, v_tag_nos, cap + 1, v_plan.tag_ids;
END
$$;

COMMENT ON FUNCTION gallery.gallery_count(uuid[], text, text[], bigint, integer, text) IS
    'How many items gallery_page would return for these filters: exact up to cap, else "at least cap"; or an estimate with its interval';
