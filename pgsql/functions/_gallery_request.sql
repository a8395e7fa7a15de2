CREATE OR REPLACE FUNCTION gallery._gallery_request(
    p_tags uuid[], p_cursor text, p_page_size integer, p_match text, p_sources text[],
    p_viewer_id bigint, p_direction text, p_strategy text)
RETURNS TABLE (tags uuid[], sources text[], filter_hash text,
               after_created_at timestamptz, after_id bigint, forward boolean,
               strategy text, forced boolean, k integer, rarest_count bigint,
               estimated_candidates bigint, seed_tags uuid[], reason text,
               cursor_secret text, telemetry_sample_rate double precision,
               max_work_mem_mb integer, use_tag_array boolean, tag_nos integer[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg public.gallery_config;
    v_tags uuid[];
    v_plan record;
BEGIN
    /*
    Contract: everything gallery_page and gallery_explain need before they
    run a strategy: the arguments checked (_gallery_check_args, shared with
    gallery_plan, then direction and cursor; errors: see gallery_page), tags
    and sources normalised (distinct, sorted), the hash of those filters that
    cursors carry, the cursor's position, and the strategy (forced, or chosen
    by gallery_plan) with the tags rarest first and the plan's figures, and
    the tags' numbers (tags.tag_no) for the strategies that read tag_nos.
    Cost: the checks (twice: gallery_plan repeats them, a few microseconds),
    gallery_plan's (one stats probe per tag), one cursor check, one
    tags primary-key probe per tag.
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
    -- checked above: at most 1000 elements, so this is cheap
    SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}') INTO v_tags FROM unnest(p_tags) AS t;

    -- a cursor belongs to exactly these normalised filters
    filter_hash := left(encode(sha256(convert_to(concat_ws('|', array_to_string(v_tags, ','),
                       p_match, array_to_string(sources, ','), p_viewer_id), 'UTF8')), 'hex'), 16);
    IF p_cursor IS NOT NULL THEN
        SELECT r.after_created_at, r.after_id INTO after_created_at, after_id
          FROM _gallery_cursor_read(p_cursor, filter_hash, v_cfg.cursor_secret) AS r;
    END IF;
    forward := p_direction = 'next';

    SELECT * INTO v_plan
      FROM gallery_plan(v_tags, p_match, sources, p_viewer_id, p_page_size, p_strategy);
    tags := v_plan.tag_ids;  -- rarest first
    forced := p_strategy IS NOT NULL;
    strategy := coalesce(p_strategy, v_plan.strategy);
    k := v_plan.k;
    rarest_count := v_plan.rarest_count;
    estimated_candidates := v_plan.estimated_candidates;
    seed_tags := v_plan.seed_tags;  -- two_phase's seeds (gallery_plan plans for the forced strategy)
    reason := CASE WHEN forced THEN 'forced by the strategy argument' ELSE v_plan.reason END;
    cursor_secret := v_cfg.cursor_secret;
    telemetry_sample_rate := v_cfg.telemetry_sample_rate;
    max_work_mem_mb := v_cfg.max_work_mem_mb;
    use_tag_array := v_cfg.enable_tag_array;
    -- the tags' numbers in content_items_all.tag_nos; under 'all' a tag that
    -- does not exist leaves NULL: nothing can match
    IF k > 0 THEN
        tag_nos := _gallery_tag_nos(tags, p_match);
    END IF;
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery._gallery_request(uuid[], text, integer, text, text[], bigint, text, text) IS
    'Internal: checked, normalised and planned arguments of gallery_page';
