CREATE OR REPLACE FUNCTION gallery._gallery_request(
    p_tags uuid[], p_cursor text, p_page_size integer, p_match text, p_sources text[],
    p_viewer_id bigint, p_direction text, p_strategy text)
RETURNS TABLE (tags uuid[], tag_nos integer[], sources text[], types text[], own text[],
               others text[], filter_hash text, after_created_at timestamptz, after_id bigint,
               has_cursor boolean, forward boolean, strategy text, forced boolean, k integer,
               rarest_count bigint, estimated_candidates bigint, costs jsonb,
               cursor_secret text, telemetry_sample_rate double precision,
               max_work_mem_mb integer, cache_enabled boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg public.gallery_config;
    v_plan record;
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
    Cost: the checks, one cursor check, one tags probe per tag and
    _gallery_choose's (one stats probe per tag).
    */
    SELECT * INTO v_cfg FROM public.gallery_config;
    sources := _gallery_check_args(p_tags, p_match, p_sources, p_viewer_id, p_page_size,
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
    forward := p_direction = 'next';
    -- checked above: at most 1000 elements, so this is cheap
    tags := ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t ORDER BY t);
    own := array_remove(ARRAY[CASE WHEN 'user-auto' = ANY (sources) THEN 'auto' END,
                              CASE WHEN 'user-regular' = ANY (sources) THEN 'items' END], NULL);
    others := array_remove(ARRAY[CASE WHEN 'community-auto' = ANY (sources) THEN 'auto' END,
                                 CASE WHEN 'community-regular' = ANY (sources) THEN 'items' END], NULL);
    types := array_remove(ARRAY[CASE WHEN 'auto' = ANY (own || others) THEN 'auto' END,
                                CASE WHEN 'items' = ANY (own || others) THEN 'items' END], NULL);

    -- a cursor belongs to exactly these normalised filters
    filter_hash := left(encode(sha256(convert_to(concat_ws('|', array_to_string(tags, ','),
                       p_match, array_to_string(sources, ','), p_viewer_id), 'UTF8')), 'hex'), 16);
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

    SELECT * INTO v_plan
      FROM _gallery_choose(tags, p_match, types, cardinality(others) = 0, p_page_size, p_strategy);
    tags := v_plan.tag_ids;  -- rarest first
    k := cardinality(tags);
    tag_nos := _gallery_tag_nos(tags, p_match);
    forced := p_strategy IS NOT NULL;
    strategy := v_plan.strategy;
    rarest_count := v_plan.rarest_count;
    estimated_candidates := v_plan.estimated_candidates;
    costs := v_plan.costs;
    cursor_secret := v_cfg.cursor_secret;
    telemetry_sample_rate := v_cfg.telemetry_sample_rate;
    max_work_mem_mb := v_cfg.max_work_mem_mb;
    cache_enabled := v_cfg.cache_enabled;
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery._gallery_request(uuid[], text, integer, text, text[], bigint, text, text) IS
    'Internal: checked, normalised and planned arguments of gallery_page';
