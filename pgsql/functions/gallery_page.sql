CREATE OR REPLACE FUNCTION gallery.gallery_page(
    tags      uuid[]  DEFAULT NULL,
    cursor    text    DEFAULT NULL,
    page_size integer DEFAULT 25,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    direction text    DEFAULT 'next',
    strategy  text    DEFAULT NULL)
RETURNS TABLE (id bigint, source_type text, created_at timestamptz, creator_id bigint,
               title text, content_type text, content_data text, path_thumb text,
               path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb,
               is_private boolean, quality_score double precision, updated_at timestamptz,
               row_cursor text, has_more boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables: it must
                  -- not read other users' private items, nor gallery_config.cursor_secret
SET search_path = pg_catalog, gallery, pg_temp
SET work_mem = '64MB'
SET enable_seqscan = on     -- turned off for the page's statement, this call only
SET enable_bitmapscan = on
SET enable_sort = on
SET enable_memoize = on
SET plan_cache_mode = force_generic_plan  -- the page's statement: planned once per session
SET jit = off  -- compiling a page's query costs more than running it
SET max_parallel_workers_per_gather = 0  -- starting a worker costs more than a page's walk
AS $$
#variable_conflict use_column
DECLARE
    v_started timestamptz := clock_timestamp();
    v_req record;
    v_rows bigint := 0;
BEGIN
    /*
    Contract (docs/api.md): one page of the gallery, newest first
    (created_at DESC, id DESC), of the items that carry all (match 'all') or
    any (match 'any') of the tags, in the given sources (NULL: every source
    this caller may see, all four with viewer_id, community-* without),
    visible to the viewer: others' private items never. Each row's row_cursor (opaque, URL-safe, signed) continues after it:
    the last row's as cursor for the next page, the first row's with
    direction 'prev' for the page before. has_more (the same on every row of
    a page) says whether another page follows in the direction of travel:
    older items after a 'next' page, newer ones before a 'prev' page; the
    strategy reads one row more than the page to know it.
    strategy (not part of the public contract) forces one strategy for tests
    and benchmarks; NULL lets gallery_plan choose. Forcing is for those who
    may change the knobs (UPDATE on gallery_config: the admin role): a forced
    strategy can make the server work hard (42501 insufficient_privilege).
    Errors (SQLSTATE 22023 invalid_parameter_value, message naming the
    parameter, with a HINT): page_size outside 1..100; match, direction,
    strategy or a source not one of the allowed words; empty sources;
    a NULL tag; more distinct tags than gallery_config.max_tags; a user-*
    source without viewer_id; direction 'prev' without a cursor; a cursor that
    is not ours, altered, from another version or for other filters.
    Unknown tag ids are not errors: under 'all' they match nothing, under
    'any' they add nothing.
    Cost: the chosen strategy's (see each strategy's function), plus a sort
    of its rows and one HMAC per returned row in the same statement; a
    sampled telemetry insert. The checks and the planner read gallery_config's row
    and the tags' statistics; the page's statement is planned once per
    session.
    */
    IF strategy IS NOT NULL
       AND NOT has_table_privilege(session_user, 'public.gallery_config', 'UPDATE') THEN
        RAISE EXCEPTION 'strategy may only be forced by an administrator'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'call with strategy => NULL (the planner chooses), or as a member of the admin role';
    END IF;
    SELECT * INTO v_req
      FROM _gallery_request(tags, cursor, page_size, match, sources, viewer_id, direction, strategy);

    -- One statement, so one snapshot: the strategy picks the page and the same
    -- read returns its rows. (Picking ids first and reading the rows in a
    -- second statement let a row committed in between, e.g. turned private,
    -- through, and made pages short when one was deleted.) No query at all
    -- when a tag does not exist (all) or none does (any).
    -- One static statement per strategy, each planned once per session (a generic
    -- plan: plan_cache_mode above) with the settings below: _gallery_page_rows
    -- (inlined), given the strategy as a constant, keeps that strategy's query
    -- (its function, inlined too) and makes the page of the rows it reads, with
    -- their cursors. (One statement for all strategies, the others stopped at a
    -- one-time filter, cost ~1 ms a call to start and end the plans not run.)
    IF v_req.k = 0 OR cardinality(v_req.tag_nos) > 0 THEN
        PERFORM _gallery_apply_settings(v_req.max_work_mem_mb);  -- this call only
        IF v_req.strategy = 'order_first' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('order_first', v_req.tags, v_req.tag_nos,
                match, v_req.types, v_req.own, v_req.others, viewer_id, v_req.after_created_at,
                v_req.after_id, v_req.has_cursor, v_req.forward, page_size, v_req.filter_hash,
                v_req.cursor_secret);
        ELSIF v_req.strategy = 'tag_walk' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_walk', v_req.tags, v_req.tag_nos,
                match, v_req.types, v_req.own, v_req.others, viewer_id, v_req.after_created_at,
                v_req.after_id, v_req.has_cursor, v_req.forward, page_size, v_req.filter_hash,
                v_req.cursor_secret);
        ELSE
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_array', v_req.tags, v_req.tag_nos,
                match, v_req.types, v_req.own, v_req.others, viewer_id, v_req.after_created_at,
                v_req.after_id, v_req.has_cursor, v_req.forward, page_size, v_req.filter_hash,
                v_req.cursor_secret);
        END IF;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    END IF;

    IF random() < v_req.telemetry_sample_rate THEN
        BEGIN
            INSERT INTO public.gallery_telemetry (strategy, forced, k, match, sources, rarest_count,
                                           estimated_candidates, rows_returned, duration_ms)
            VALUES (v_req.strategy, v_req.forced, v_req.k, match, v_req.sources,
                    v_req.rarest_count, v_req.estimated_candidates,
                    v_rows,
                    extract(epoch FROM clock_timestamp() - v_started) * 1000);
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- telemetry never fails a page
        END;
    END IF;
END
$$;

COMMENT ON FUNCTION gallery.gallery_page(uuid[], text, integer, text, text[], bigint, text, text) IS
    'One page of the gallery: tag filter (all/any), sources, viewer, keyset cursor. See docs/api.md';
