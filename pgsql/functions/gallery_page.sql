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
-- The settings every statement here is planned and run with (gallery_explain and the
-- bench read them from here, _gallery_apply_settings; PostgreSQL restores the caller's
-- when the call returns):
SET search_path = pg_catalog, gallery, pg_temp
SET work_mem = '256MB'      -- gallery_config.max_work_mem_mb's default; the knob wins
SET enable_seqscan = off    -- the strategies' walks in keyset order, stopping at the page,
SET enable_bitmapscan = off -- are the only plans left (tag_array keeps its GIN scan and
SET enable_sort = off       -- top-N sort, which it has no way around), and every lookup is
                            -- an index probe, whatever the tables' statistics say
SET enable_memoize = off    -- each walk probes an item once: a Memoize costs more to start
SET plan_cache_mode = force_generic_plan  -- each statement planned once per session
SET jit = off  -- compiling a page's query costs more than running it
SET max_parallel_workers_per_gather = 0  -- starting a worker costs more than a page's walk
AS $$
#variable_conflict use_column
DECLARE
    v_started timestamptz := clock_timestamp();
    v_req record;
    v_rows bigint := 0;
    v_cache record;
    v_page public.gallery_page_cache.page%TYPE;
    v_slot bigint;
    v_evicted bigint;
    v_fill boolean := false;
    v_read_only boolean;  -- (a hot standby): no cache, no telemetry
    v_cacheable boolean;
    v_telemetry_slot bigint;
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
    Page cache (gallery_config.cache_enabled; docs/operations.md): a call
    whose page is cached and still valid (no write to its tags, or to any
    item without a tag filter, committed since it was read; no knob changed;
    younger than cache_ttl_seconds) returns it as stored, before any other
    work; a miss reads the page through this function (the cache bypassed
    for that inner call) and stores it, unless this transaction has link
    changes whose tag_nos are written at its commit (_gallery_tag_nos_pending).
    Forced strategies and read-only transactions (a hot standby) bypass the
    cache; a session that last saw the cache off skips it until its next call
    has seen it on.
    Cost: the cache lookup when it is on (a key, one index probe, the guard's
    versions); for arguments planned before, one statement reads the kept
    plan and checks the cursor (the plan memo: _gallery_request_kept),
    otherwise the checks and the planner read gallery_config's row and the
    tags' statistics (_gallery_request); then the chosen strategy's (see each
    strategy's function) plus one HMAC per returned row in the same
    statement (and under prev a sort of the page's rows), planned once per
    session; a sampled telemetry row (an unlogged ring of telemetry_max_rows:
    its commit waits for no WAL flush; none in a read-only transaction); on a
    cache miss, the page stored.
    */
    IF strategy IS NOT NULL
       AND NOT has_table_privilege(session_user, 'public.gallery_config', 'UPDATE') THEN
        RAISE EXCEPTION 'strategy may only be forced by an administrator'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'call with strategy => NULL (the planner chooses), or as a member of the admin role';
    END IF;
    -- The cache first: an entry is valid while the versions of its guard and
    -- gallery_config's row are those it was read with (the config's changes with
    -- every knob, cache_enabled included). A hit is this one statement. A session
    -- that last saw the cache off skips the cache (gallery.page_cache_seen: a hint,
    -- kept below; the config decides, and the session's next call uses it).
    v_read_only := current_setting('transaction_read_only')::boolean;
    v_cacheable := strategy IS NULL AND NOT v_read_only;
    IF v_cacheable AND current_setting('gallery.page_cache_seen', true) IS DISTINCT FROM 'off'
       AND current_setting('gallery.page_cache_filling', true) IS DISTINCT FROM 'on' THEN
        RETURN QUERY
        SELECT p.*
          FROM (SELECT e.page
                  FROM _gallery_cache_key(tags, cursor, page_size, match, sources, viewer_id,
                                          direction) AS k
                  JOIN public.gallery_page_cache e ON e.key = k.key
                 -- (k.key in the test keeps it a join filter: evaluated, and counted, for
                 -- this key's row only, whichever join the plan uses)
                 WHERE CASE WHEN e.key = k.key AND e.expires_at > now()
                             AND e.config = (SELECT g.xmin FROM public.gallery_config g)
                             AND e.versions = (SELECT coalesce(sum(v.version), 0)::bigint
                                                 FROM public.gallery_cache_versions v
                                                WHERE v.key = ANY (e.guard))
                            THEN nextval('public.gallery_cache_hits') > 0 END
               ) AS h,
               unnest(h.page) AS p;
        IF FOUND THEN
            RETURN;
        END IF;
        -- No rows: what a miss needs, the versions and gallery_config's version read
        -- before the page is (a write or a knob change committed in between only makes
        -- the stored page look older than it is). A valid entry here holds an empty
        -- page (its hit counted above), or one another session stored since: the answer.
        SELECT cfg.xmin AS config, cfg.cache_ttl_seconds, cfg.cache_max_entries,
               k.key, k.guard, g.versions, e.versions AS entry_versions,
               e.config AS entry_config, e.expires_at, valid.valid,
               CASE WHEN valid.valid THEN e.page END AS page
          INTO v_cache
          FROM public.gallery_config cfg
         CROSS JOIN _gallery_cache_key(tags, cursor, page_size, match, sources, viewer_id,
                                       direction) AS k
         CROSS JOIN LATERAL (SELECT coalesce(sum(v.version), 0)::bigint AS versions
                               FROM public.gallery_cache_versions v
                              WHERE v.key = ANY (k.guard)) AS g
          LEFT JOIN LATERAL (SELECT * FROM public.gallery_page_cache e
                              WHERE e.key = k.key
                              LIMIT 1) AS e ON true  -- (planned apart: an index probe by key)
         CROSS JOIN LATERAL (SELECT e.versions = g.versions AND e.config = cfg.xmin
                                    AND e.expires_at > now() AS valid) AS valid
         WHERE cfg.cache_enabled;
        v_fill := FOUND;
        IF v_cache.valid THEN
            IF cardinality(v_cache.page) > 0 THEN
                PERFORM nextval('public.gallery_cache_hits');
            END IF;
            RETURN QUERY SELECT * FROM unnest(v_cache.page);
            RETURN;
        END IF;
        -- A miss: the page read through this function itself, the cache bypassed (for
        -- this call only: gallery.page_cache_filling, local, undone when it returns),
        -- then counted, stored in the ring's next slot and returned. Not from a
        -- transaction whose links' tag_nos are written at its commit (its page may lack
        -- them): that one reads the page as if the cache were off.
        IF v_fill AND NOT _gallery_tag_nos_pending() THEN
            PERFORM set_config('gallery.page_cache_filling', 'on', true);
            v_page := ARRAY(SELECT p::public.gallery_cached_row
                              FROM gallery_page(tags, cursor, page_size, match, sources, viewer_id,
                                                direction) AS p);
            PERFORM set_config('gallery.page_cache_filling', 'off', true);
            v_slot := nextval('public.gallery_cache_fills') % v_cache.cache_max_entries;
            WITH replaced AS (
                DELETE FROM public.gallery_page_cache e
                 WHERE e.key = ANY (ARRAY[(SELECT o.key FROM public.gallery_page_cache o
                                            WHERE o.slot = v_slot),
                                          v_cache.key])
                RETURNING e.key
            )
            SELECT count(*) FILTER (WHERE r.key <> v_cache.key) INTO v_evicted FROM replaced r;
            PERFORM nextval('public.gallery_cache_misses'),
                    CASE WHEN v_cache.entry_versions <> v_cache.versions
                           OR v_cache.entry_config <> v_cache.config
                         THEN nextval('public.gallery_cache_invalidations')
                         WHEN v_cache.expires_at <= now()
                         THEN nextval('public.gallery_cache_expirations') END,
                    CASE WHEN v_evicted > 0 THEN nextval('public.gallery_cache_evictions') END;
            INSERT INTO public.gallery_page_cache AS e
                   (key, slot, guard, versions, config, page, first_page, expires_at)
            VALUES (v_cache.key, v_slot, v_cache.guard, v_cache.versions, v_cache.config,
                    coalesce(v_page, '{}'),
                    CASE WHEN cursor IS NULL AND direction = 'next'
                         THEN jsonb_build_object('tags', tags, 'match', match, 'sources', sources,
                                                 'viewer_id', viewer_id, 'page_size', page_size) END,
                    now() + make_interval(secs => v_cache.cache_ttl_seconds))
            ON CONFLICT DO NOTHING;  -- another session stored it, or took the slot, first
            RETURN QUERY SELECT * FROM unnest(v_page);
            RETURN;
        END IF;
    END IF;
    -- Arguments planned before: their checked and planned request in one statement (the
    -- plan memo); otherwise _gallery_request checks and plans them (and keeps the plan).
    -- A first page's call passes its NULL cursor, direction and strategy as constants:
    -- its statement's plan then has no cursor check to start and end (~25 µs).
    IF cursor IS NULL AND direction = 'next' AND strategy IS NULL THEN
        SELECT * INTO v_req
          FROM _gallery_request_kept(tags, NULL, page_size, match, sources, viewer_id, 'next',
                                     NULL);
    ELSE
        SELECT * INTO v_req
          FROM _gallery_request_kept(tags, cursor, page_size, match, sources, viewer_id,
                                     direction, strategy);
    END IF;
    IF NOT FOUND THEN
        SELECT * INTO v_req
          FROM _gallery_request(tags, cursor, page_size, match, sources, viewer_id, direction,
                                strategy);
    END IF;
    IF v_cacheable
       AND (current_setting('gallery.page_cache_seen', true) = 'on') IS DISTINCT FROM v_req.cache_enabled THEN
        PERFORM set_config('gallery.page_cache_seen',
                           CASE WHEN v_req.cache_enabled THEN 'on' ELSE 'off' END, false);
    END IF;

    -- One statement, so one snapshot: the strategy picks the page and the same
    -- read returns its rows. (Picking ids first and reading the rows in a
    -- second statement let a row committed in between, e.g. turned private,
    -- through, and made pages short when one was deleted.) No query at all
    -- when a tag does not exist (all) or none does (any).
    -- One static statement per strategy, match and direction, each planned once per
    -- session (a generic plan: plan_cache_mode above) with the settings above:
    -- _gallery_page_rows (inlined), given the three as constants, keeps that strategy's
    -- query (its function, inlined too) for that match and direction only, and makes the
    -- page of the rows it reads, with their cursors. (The strategies test match and
    -- direction outside their branches' LIMITs, so that these constants drop the other
    -- branches from the plan: left in, stopped at one-time filters, they cost ~65 µs a
    -- call to start and end; one statement for all strategies cost ~1 ms.)
    IF v_req.k = 0 OR cardinality(v_req.tag_nos) > 0 THEN
        IF current_setting('work_mem') <> v_req.max_work_mem_mb || 'MB' THEN
            PERFORM set_config('work_mem', v_req.max_work_mem_mb || 'MB', true);  -- this call only
        END IF;
        CASE v_req.strategy || ' ' || match || ' ' || direction
        WHEN 'order_first all next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('order_first',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'order_first all prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('order_first',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'order_first any next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('order_first',
                v_req.tags, v_req.tag_nos, 'any', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'order_first any prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('order_first',
                v_req.tags, v_req.tag_nos, 'any', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_walk all next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_walk',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_walk all prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_walk',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_walk any next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_walk',
                v_req.tags, v_req.tag_nos, 'any', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_walk any prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_walk',
                v_req.tags, v_req.tag_nos, 'any', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_merge all next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_merge',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_merge all prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_merge',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_array all next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_array',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_array all prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_array',
                v_req.tags, v_req.tag_nos, 'all', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_array any next' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_array',
                v_req.tags, v_req.tag_nos, 'any', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, true, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        WHEN 'tag_array any prev' THEN
            RETURN QUERY SELECT * FROM _gallery_page_rows('tag_array',
                v_req.tags, v_req.tag_nos, 'any', v_req.types, v_req.own, v_req.others, viewer_id,
                v_req.after_created_at, v_req.after_id, v_req.has_cursor, false, page_size,
                v_req.filter_hash, v_req.cursor_secret);
        END CASE;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    END IF;

    IF random() < v_req.telemetry_sample_rate AND NOT v_read_only THEN
        BEGIN
            -- a ring: the slot after the last one written replaces what it held. Never
            -- a wait: a row another transaction holds (it wrote that slot and has not
            -- committed) is skipped, and so is this sample.
            v_telemetry_slot := nextval('public.gallery_telemetry_slots')
                                % (SELECT c.telemetry_max_rows FROM public.gallery_config c);
            UPDATE public.gallery_telemetry t
               SET called_at = now(), strategy = v_req.strategy, forced = v_req.forced,
                   k = v_req.k, match = gallery_page.match, sources = v_req.sources,
                   rarest_count = v_req.rarest_count,
                   estimated_candidates = v_req.estimated_candidates, rows_returned = v_rows,
                   duration_ms = extract(epoch FROM clock_timestamp() - v_started) * 1000
             WHERE t.slot = (SELECT o.slot FROM public.gallery_telemetry o
                              WHERE o.slot = v_telemetry_slot
                                FOR UPDATE SKIP LOCKED);
            IF NOT FOUND THEN  -- the ring's first lap (or the row held: it exists, no insert)
                INSERT INTO public.gallery_telemetry
                       (slot, called_at, strategy, forced, k, match, sources, rarest_count,
                        estimated_candidates, rows_returned, duration_ms)
                SELECT v_telemetry_slot, now(), v_req.strategy, v_req.forced, v_req.k, match,
                       v_req.sources, v_req.rarest_count, v_req.estimated_candidates, v_rows,
                       extract(epoch FROM clock_timestamp() - v_started) * 1000
                 WHERE NOT EXISTS (SELECT FROM public.gallery_telemetry o
                                    WHERE o.slot = v_telemetry_slot)
                ON CONFLICT DO NOTHING;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- telemetry never fails a page
        END;
    END IF;
END
$$;

COMMENT ON FUNCTION gallery.gallery_page(uuid[], text, integer, text, text[], bigint, text, text) IS
    'One page of the gallery: tag filter (all/any), sources, viewer, keyset cursor. See docs/api.md';
