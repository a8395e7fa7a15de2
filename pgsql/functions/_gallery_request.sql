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
    v_memo record;  -- gallery_config, its version, the generation, the key
    v_cfg public.gallery_config;
    v_plan public.gallery_plan_memo;  -- the plan, kept in the memo when it may be
    v_choice record;
BEGIN
    /*
    Contract: everything gallery_page and gallery_explain need before they
    run a strategy, checked and planned afresh (gallery_page first asks
    _gallery_request_kept for a kept plan): gallery_config; the arguments
    checked (_gallery_check_args, shared with gallery_plan, then direction
    and cursor; errors: see gallery_page); tags and sources normalised
    (distinct, sorted) and the sources as the strategies' scope (types, own,
    others: _gallery_in_scope); the hash of those filters that cursors
    carry; the cursor's position (or the sentinel that starts a first page,
    see _gallery_order_first); the tags' numbers (tags.tag_no; NULL under
    all when a tag does not exist); the strategy (forced, or chosen by
    _gallery_choose) with the tags rarest first and the plan's figures;
    whether the page cache is on (_gallery_request_row makes the row).
    Plan memo (gallery_plan_memo, docs/planner.md): the plan, the part that
    does not depend on the cursor, direction or viewer (checks passed,
    normalised filters, tag numbers, strategy), is kept for the next calls
    with the same arguments (tags as given, match, sources as given, whether
    viewer_id is NULL, page_size, the forced strategy: _gallery_plan_key),
    in any session: _gallery_request_kept uses it while gallery_config's
    row, the plan generation (bumped by writes to tags and the statistics)
    and plan_memo_ttl_seconds allow. Not stored in a read-only transaction
    (a hot standby has no unlogged tables), nor while a tag does not exist;
    a store never waits for another session.
    Cost: the checks, one tags probe per tag and _gallery_choose's (one
    stats probe per tag), and the entry stored (two index inserts; the
    oldest entries plan_memo_entries behind it deleted, at most 100).
    */
    SELECT c AS cfg, c.xmin AS config,
           CASE WHEN g.is_called THEN g.last_value ELSE 0 END AS generation,
           -- (the key only for arguments that may pass the checks: a million tags are
           -- refused at once, not formatted first; none where nothing may be stored)
           CASE WHEN NOT current_setting('transaction_read_only')::boolean
                THEN _gallery_plan_key(p_tags, p_match, p_sources, p_viewer_id, p_page_size,
                                       p_strategy, c.max_tags) END AS key
      INTO v_memo
      FROM public.gallery_config c
     CROSS JOIN public.gallery_plan_generation g;
    v_cfg := v_memo.cfg;

    v_plan.sources := _gallery_check_args(p_tags, p_match, p_sources, p_viewer_id, p_page_size,
                                          p_strategy, 'strategy', v_cfg.max_tags);
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
    -- checked above: at most max_tags elements, so this is cheap
    v_plan.tags := ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t ORDER BY t);
    v_plan.own := _gallery_source_types(v_plan.sources, 'user');
    v_plan.others := _gallery_source_types(v_plan.sources, 'community');
    v_plan.types := array_remove(ARRAY[CASE WHEN 'auto' = ANY (v_plan.own || v_plan.others) THEN 'auto' END,
                                       CASE WHEN 'items' = ANY (v_plan.own || v_plan.others) THEN 'items' END],
                                 NULL);
    v_plan.filter_key := concat_ws('|', array_to_string(v_plan.tags, ','), p_match,
                                   array_to_string(v_plan.sources, ','));
    SELECT * INTO v_choice
      FROM _gallery_choose(v_plan.tags, p_match, v_plan.types, cardinality(v_plan.others) = 0,
                           p_page_size, p_strategy);
    v_plan.tags := v_choice.tag_ids;  -- rarest first
    v_plan.tag_nos := _gallery_tag_nos(v_plan.tags, p_match);
    v_plan.strategy := v_choice.strategy;
    v_plan.rarest_count := v_choice.rarest_count;
    v_plan.estimated_candidates := v_choice.estimated_candidates;
    v_plan.costs := v_choice.costs;

    -- the new plan kept, when it may be: every tag exists (tag_nos names them all)
    IF v_memo.key IS NOT NULL AND v_cfg.plan_memo_entries > 0
       AND cardinality(v_plan.tag_nos) = cardinality(v_plan.tags) THEN
        v_plan.fill := nextval('public.gallery_plan_memo_fills');
        v_plan.key := v_memo.key;
        v_plan.config := v_memo.config;
        v_plan.generation := v_memo.generation;
        v_plan.expires_at := now() + make_interval(secs => v_cfg.plan_memo_ttl_seconds);
        -- (an index probe however big the memo: = ANY of at most 100, oldest first)
        DELETE FROM public.gallery_plan_memo e
         WHERE e.fill = ANY (ARRAY(SELECT o.fill FROM public.gallery_plan_memo o
                                   WHERE o.fill <= v_plan.fill - v_cfg.plan_memo_entries
                                   ORDER BY o.fill LIMIT 100
                                     FOR UPDATE SKIP LOCKED));
        INSERT INTO public.gallery_plan_memo SELECT (v_plan).*;
    END IF;
    RETURN QUERY SELECT * FROM _gallery_request_row(
        v_plan.tags, v_plan.tag_nos, v_plan.sources, v_plan.types, v_plan.own, v_plan.others,
        v_plan.filter_key, v_plan.strategy, v_plan.rarest_count, v_plan.estimated_candidates,
        v_plan.costs, v_cfg.cursor_secret, v_cfg.telemetry_sample_rate, v_cfg.max_work_mem_mb,
        v_cfg.cache_enabled, p_cursor, p_direction, p_viewer_id, p_strategy IS NOT NULL);
END
$$;

COMMENT ON FUNCTION gallery._gallery_request(uuid[], text, integer, text, text[], bigint, text, text) IS
    'Internal: checked, normalised and planned arguments of gallery_page';
