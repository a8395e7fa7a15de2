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
SET enable_seqscan = on     -- _gallery_apply_settings may turn these off for the call
SET enable_bitmapscan = on
SET enable_sort = on
SET jit = off  -- compiling a page's query costs more than running it
SET max_parallel_workers_per_gather = 0  -- starting a worker costs more than a page's walk
AS $$  -- noqa: PLPGSQL_CHECK the OUT columns are filled by RETURN QUERY EXECUTE, which the check cannot follow
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
    visible to the viewer: others' private items never. Each row's row_cursor continues after it:
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
    Cost: the chosen strategy's (see each strategy's header), plus one
    primary-key lookup per returned row in the same statement; a sampled
    telemetry insert.
    */
    IF strategy IS NOT NULL
       AND NOT has_table_privilege(session_user, 'public.gallery_config', 'UPDATE') THEN
        RAISE EXCEPTION 'strategy may only be forced by an administrator'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'call with strategy => NULL (the planner chooses), or as a member of the admin role';
    END IF;
    SELECT * INTO v_req
      FROM _gallery_request(tags, cursor, page_size, match, sources, viewer_id, direction, strategy);
    PERFORM _gallery_apply_settings(v_req.strategy, v_req.max_work_mem_mb);  -- this call only

    -- One statement, so one snapshot: the strategy picks the page and the same
    -- read returns its rows. (Picking ids first and reading the rows in a
    -- second statement let a row committed in between, e.g. turned private,
    -- through, and made pages short when one was deleted.) No query at all
    -- when a tag does not exist (all) or none does (any).
    IF v_req.k = 0 OR cardinality(v_req.tag_nos) > 0 THEN
        RETURN QUERY EXECUTE format(  -- noqa: PLPGSQL_CHECK the strategy SQL is built from constants only; values go through USING
            'SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,'
            '       i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,'
            '       i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb,'
            '       i.is_private, i.quality_score::double precision, i.updated_at::timestamptz,'
            -- row_cursor: URL-safe base64 of g1|<created_at in µs>|<id>|<filter hash>|<sig>,
            -- sig = first 16 hex of sha256(secret|payload|secret); read back by
            -- _gallery_cursor_read. Written out here rather than as a function: a
            -- function with SET search_path is never inlined, and calling one per row
            -- cost a third of a page (0.4 ms for 25 rows).
            '       translate(rtrim(encode(convert_to(c.payload || ''|'' || left(encode(sha256(convert_to('
            '           $9 || ''|'' || c.payload || ''|'' || $9, ''UTF8'')), ''hex''), 16), ''UTF8''),'
            '           ''base64''), ''=''), E''+/\n'', ''-_''),'
            '       s.found > $10'
            -- the strategy's page_size + 1 rows, numbered in its walk order: the
            -- first page_size are the page, one more means more follow
            '  FROM (SELECT w.*, row_number() OVER (ORDER BY w.item_created_at %1$s, w.item_id %1$s) AS n,'
            '               count(*) OVER () AS found'
            '          FROM (%2$s) AS w) AS s'
            '  JOIN public.content_items_all i ON i.id = s.item_id AND i.source_type = s.item_source'
            -- created_at in µs since 1970, exact integer arithmetic (numeric) over the
            -- whole timestamp range, counted from PostgreSQL's own epoch (2000) so that
            -- the interval cannot overflow; 'Infinity' / '-Infinity' for infinite ones
            ' CROSS JOIN LATERAL (SELECT format(''g1|%%s|%%s|%%s'','
            '             CASE WHEN isfinite(i.created_at)'
            '                  THEN trunc(extract(epoch FROM i.created_at'
            '                                     - timestamptz ''2000-01-01 00:00:00+00'') * 1000000)'
            '                       + 946684800000000'
            '                  WHEN i.created_at > timestamptz ''epoch'' THEN numeric ''Infinity'''
            '                  ELSE numeric ''-Infinity'' END,'
            '             i.id, $8) AS payload) AS c'
            ' WHERE s.n <= $10'
            ' ORDER BY s.item_created_at DESC, s.item_id DESC',
            CASE WHEN v_req.forward THEN 'DESC' ELSE 'ASC' END,
            _gallery_strategy_sql(v_req.strategy, match, v_req.k, v_req.sources,
                                  v_req.forward, v_req.after_id IS NOT NULL, v_req.use_tag_array))
          USING viewer_id, v_req.after_created_at, v_req.after_id, v_req.tags, page_size + 1,
                v_req.seed_tags, v_req.tag_nos, v_req.filter_hash, v_req.cursor_secret, page_size;
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
