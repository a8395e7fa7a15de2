CREATE OR REPLACE FUNCTION gallery.gallery_plan(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    page_size integer DEFAULT 25)
RETURNS TABLE (strategy text, k integer, tag_ids uuid[], tag_counts bigint[],
               rarest_count bigint, estimated_candidates bigint, items_in_scope bigint,
               costs jsonb, stats_stale boolean, reason text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the admin role calls it without reading the tables itself
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg public.gallery_config;
    v_sources text[];
    v_plan record;
BEGIN
    /*
    Contract: which strategy gallery_page would run for these filters, and
    why: the planner's decision (_gallery_choose, whose header states its
    inputs and formulas; docs/planner.md) with its inputs, each strategy's
    estimated cost in microseconds (costs; null: not allowed here), and a
    sentence. Arguments are checked as gallery_page checks them
    (_gallery_check_args: 22023 with a message naming the parameter); tags
    and sources are normalised (distinct) like it does.
    Cost: _gallery_choose's (one stats probe per tag) and the checks.
    */
    SELECT * INTO v_cfg FROM public.gallery_config;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, page_size,
                                     NULL, 'strategy', v_cfg.max_tags);
    SELECT * INTO v_plan FROM _gallery_choose_for(tags, match, v_sources, page_size);
    strategy := v_plan.strategy;
    tag_ids := v_plan.tag_ids;
    k := cardinality(tag_ids);
    tag_counts := v_plan.tag_counts;
    rarest_count := v_plan.rarest_count;
    estimated_candidates := v_plan.estimated_candidates;
    items_in_scope := v_plan.items_in_scope;
    costs := v_plan.costs;
    stats_stale := v_plan.stats_stale;
    reason := CASE WHEN k = 0 THEN 'no tag filter: walk items newest first'
                   ELSE format('cheapest by estimate (%s); rarest tag on %s items, ~%s matches',
                               (SELECT string_agg(format('%s %s ms', e.key,
                                                         round((e.value::text)::numeric / 1000, 2)),
                                                  ', ' ORDER BY (e.value::text)::float8)
                                  FROM jsonb_each(costs) AS e WHERE jsonb_typeof(e.value) = 'number'),
                               rarest_count, estimated_candidates) END;
    IF v_plan.walk_skip >= 0.01 THEN
        reason := reason || format('; a newest-first walk passes ~%s%% of the feed first',
                                   round((v_plan.walk_skip * 100)::numeric));
    END IF;
    IF stats_stale THEN
        reason := reason || ' (tag statistics missing or stale: run gallery_stats_refresh())';
    END IF;
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery.gallery_plan(uuid[], text, text[], bigint, integer) IS
    'The strategy gallery_page would run for these filters, with its inputs, costs and reason';
