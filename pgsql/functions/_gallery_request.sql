CREATE OR REPLACE FUNCTION gallery._gallery_request(
    p_tags uuid[], p_cursor text, p_page_size integer, p_match text, p_sources text[],
    p_viewer_id bigint, p_direction text, p_strategy text)
RETURNS TABLE (tags uuid[], tag_nos integer[], sources text[], types text[], own text[],
               others text[], filter_hash text, after_created_at timestamptz, after_id bigint,
               has_cursor boolean, forward boolean, strategy text, forced boolean, k integer,
               rarest_count bigint, estimated_candidates bigint, costs jsonb,
               cursor_secret text, telemetry_sample_rate double precision,
               max_work_mem_mb integer, cache_enabled boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE  -- stores plans in the plan memo
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg public.gallery_config;
    v_plan record;
    v_memo record;  -- gallery_config, its version, the generation, the key's valid entry (or NULL)
    v_hit boolean := false;
    v_memo_key bytea;
    v_filter_key text;
    v_fill bigint;
BEGIN
    /*
    Contract: everything gallery_page and gallery_explain need before they
    run a strategy: gallery_config; the arguments checked
    (_gallery_check_args, shared with gallery_plan, then direction and
    cursor; errors: see gallery_page); tags and sources normalised (distinct,
    sorted) and the sources as the strategies' scope (types, own, others:
    _gallery_in_scope); the hash of those filters that cursors carry; the
    cursor's position (or the sentinel that starts a first page, see
    _gallery_order_first); the tags' numbers (tags.tag_no; NULL under all
    when a tag does not exist); the strategy (forced, or chosen by
    _gallery_choose) with the tags rarest first and the plan's figures;
    whether the page cache is on.
    Plan memo (gallery_plan_memo, docs/planner.md): the part that does not
    depend on the cursor, direction or viewer (checks passed, normalised
    filters, tag numbers, plan) is kept for the next calls with the same
    arguments (tags as given, match, sources as given, whether viewer_id is
    NULL, page_size, the forced strategy), in any session, and used instead
    of the checks and the planner while gallery_config's row, the plan
    generation (bumped by writes to tags and the statistics) and
    plan_memo_ttl_seconds allow. Not used nor stored in a read-only
    transaction (a hot standby has no unlogged tables), nor stored while a
    tag does not exist; a store never waits for another session.
    Cost: with a valid entry, one statement (gallery_config, the generation,
    the newest entry of the key: an index probe) and the cursor check;
    otherwise the checks, one tags probe per tag and _gallery_choose's (one
    stats probe per tag), and the entry stored (two index inserts; the
    oldest entries plan_memo_entries behind it deleted, at most 100).
    */
    IF NOT current_setting('transaction_read_only')::boolean THEN
        -- (the key only for arguments that may pass the checks: a million tags are
        -- refused at once, not formatted first)
        SELECT c AS cfg, c.xmin AS config, g.generation, k.key, m.entry INTO v_memo  -- noqa: PD006 OFFSET 0 fences the one-row key (computed once), it pages nothing
          FROM public.gallery_config c
         CROSS JOIN (SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END AS generation
                       FROM public.gallery_plan_generation s) AS g
         CROSS JOIN LATERAL (
               SELECT CASE WHEN coalesce(cardinality(p_tags), 0) <= c.max_tags THEN
                          sha256(convert_to(format('plan-v1 %L %L %L %L %L %L', p_tags, p_match,
                                                   p_sources, p_viewer_id IS NULL, p_page_size,
                                                   p_strategy),
                                            'UTF8'))
                      END AS key
               OFFSET 0) AS k  -- (unfenced, it was computed twice: the probe and the output)
          LEFT JOIN LATERAL (SELECT e AS entry FROM public.gallery_plan_memo e
                              WHERE e.key = k.key
                              ORDER BY e.fill DESC
                              LIMIT 1) AS m
                 ON (m.entry).config = c.xmin AND (m.entry).generation = g.generation
                AND (m.entry).expires_at > now();
        v_memo_key := v_memo.key;
        v_cfg := v_memo.cfg;
        v_hit := (v_memo.entry).fill IS NOT NULL;
    ELSE
        SELECT * INTO v_cfg FROM public.gallery_config;
    END IF;

    IF v_hit THEN
        tags := (v_memo.entry).tags;
        tag_nos := (v_memo.entry).tag_nos;
        sources := (v_memo.entry).sources;
        types := (v_memo.entry).types;
        own := (v_memo.entry).own;
        others := (v_memo.entry).others;
        strategy := (v_memo.entry).strategy;
        rarest_count := (v_memo.entry).rarest_count;
        estimated_candidates := (v_memo.entry).estimated_candidates;
        costs := (v_memo.entry).costs;
        v_filter_key := (v_memo.entry).filter_key;
    ELSE
        sources := _gallery_check_args(p_tags, p_match, p_sources, p_viewer_id, p_page_size,
                                       p_strategy, 'strategy', v_cfg.max_tags);
        -- checked above: at most 1000 elements, so this is cheap
        tags := ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t ORDER BY t);
        own := array_remove(ARRAY[CASE WHEN 'user-auto' = ANY (sources) THEN 'auto' END,
                                  CASE WHEN 'user-regular' = ANY (sources) THEN 'items' END], NULL);
        others := array_remove(ARRAY[CASE WHEN 'community-auto' = ANY (sources) THEN 'auto' END,
                                     CASE WHEN 'community-regular' = ANY (sources) THEN 'items' END], NULL);
        types := array_remove(ARRAY[CASE WHEN 'auto' = ANY (own || others) THEN 'auto' END,
                                    CASE WHEN 'items' = ANY (own || others) THEN 'items' END], NULL);
        v_filter_key := concat_ws('|', array_to_string(tags, ','), p_match, array_to_string(sources, ','));
        SELECT * INTO v_plan
          FROM _gallery_choose(tags, p_match, types, cardinality(others) = 0, p_page_size, p_strategy);
        tags := v_plan.tag_ids;  -- rarest first
        tag_nos := _gallery_tag_nos(tags, p_match);
        strategy := v_plan.strategy;
        rarest_count := v_plan.rarest_count;
        estimated_candidates := v_plan.estimated_candidates;
        costs := v_plan.costs;
    END IF;
    IF p_direction IS NULL OR p_direction NOT IN ('next', 'prev') THEN
        RAISE EXCEPTION 'direction must be ''next'' or ''prev'', got %',
                        coalesce(quote_literal(p_direction), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'next: older items after the cursor; prev: the page before it';
    END IF;
    IF p_direction = 'prev' AND p_cursor IS NULL THEN
        RAISE EXCEPTION 'direction ''prev'' needs a cursor'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass the first row''s row_cursor of the page you are on';
    END IF;
    -- the new plan kept, when it may be: every tag exists (tag_nos names them all)
    IF v_memo_key IS NOT NULL AND NOT v_hit AND v_cfg.plan_memo_entries > 0
       AND cardinality(tag_nos) = cardinality(tags) THEN
        v_fill := nextval('public.gallery_plan_memo_fills');
        -- (an index probe however big the memo: = ANY of at most 100, oldest first)
        DELETE FROM public.gallery_plan_memo e
         WHERE e.fill = ANY (ARRAY(SELECT o.fill FROM public.gallery_plan_memo o
                                   WHERE o.fill <= v_fill - v_cfg.plan_memo_entries
                                   ORDER BY o.fill LIMIT 100
                                     FOR UPDATE SKIP LOCKED));
        INSERT INTO public.gallery_plan_memo
               (fill, key, config, generation, expires_at, filter_key, tags, tag_nos, sources,
                types, own, others, strategy, rarest_count, estimated_candidates, costs)
        VALUES (v_fill, v_memo_key, v_memo.config, v_memo.generation,
                now() + make_interval(secs => v_cfg.plan_memo_ttl_seconds), v_filter_key, tags,
                tag_nos, sources, types, own, others, strategy, rarest_count,
                estimated_candidates, costs);
    END IF;

    forward := p_direction = 'next';
    k := cardinality(tags);
    -- a cursor belongs to exactly these normalised filters
    filter_hash := left(encode(sha256(convert_to(concat_ws('|', v_filter_key, p_viewer_id), 'UTF8')),
                               'hex'), 16);
    has_cursor := p_cursor IS NOT NULL;
    IF has_cursor THEN
        SELECT r.after_created_at, r.after_id INTO after_created_at, after_id
          FROM _gallery_cursor_read(p_cursor, filter_hash, v_cfg.cursor_secret) AS r;
    ELSIF forward THEN
        after_created_at := 'infinity';
        after_id := 9223372036854775807;
    ELSE
        after_created_at := '-infinity';
        after_id := -9223372036854775808;
    END IF;
    forced := p_strategy IS NOT NULL;
    cursor_secret := v_cfg.cursor_secret;
    telemetry_sample_rate := v_cfg.telemetry_sample_rate;
    max_work_mem_mb := v_cfg.max_work_mem_mb;
    cache_enabled := v_cfg.cache_enabled;
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery._gallery_request(uuid[], text, integer, text, text[], bigint, text, text) IS
    'Internal: checked, normalised and planned arguments of gallery_page';
