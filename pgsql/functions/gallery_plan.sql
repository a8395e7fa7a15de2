CREATE OR REPLACE FUNCTION gallery_plan(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT '{user-regular,user-auto,community-regular,community-auto}',
    viewer_id bigint  DEFAULT NULL,
    page_size integer DEFAULT 25)
RETURNS TABLE (strategy text, k integer, tag_ids uuid[], tag_counts bigint[],
               rarest_count bigint, estimated_candidates bigint, items_in_scope bigint,
               seed_tags uuid[], stats_stale boolean, reason text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg gallery_config;
    v_tags uuid[];
    v_sources text[];
    v_src text[];
    v_total double precision;
    v_density double precision;
    v_walk double precision;
    v_tag_cost double precision;
BEGIN
    /*
    Contract: which strategy gallery_page runs for these filters, and why.
    Input checks are gallery_page's (call it for validation); this function
    normalises tags (distinct) and sources like it does.
    Inputs: per tag, the number of items carrying it in the sources' partitions
    (tag_cardinality_stats; fallback_default_count when a tag has none), the
    partitions' sizes (pg_class.reltuples), the knobs of gallery_config.
    Decision (docs/planner.md):
      no tags                              -> order_first
      any: walk cheaper than the union     -> order_first, else tag_union
      all: walk cheaper than the rarest tag's items -> order_first
           else K <= small_k_threshold     -> self_join
           else rarest <= group_having_rarest_ceiling -> group_having
           else                            -> two_phase (two seed tags when
                K >= two_phase_min_k_for_dual_seed and rarest > two_phase_dual_seed_floor)
      A disabled strategy is skipped; tag-first strategies over
      seed_candidate_cap candidates give way to order_first.
    "Walk cost" = items order_first must visit for page_size matches, assuming
    tags independent: page_size / (product of the tags' shares of items).
    Cost: one index probe per tag into tag_cardinality_stats.
    */
    SELECT * INTO v_cfg FROM gallery_config;
    SELECT coalesce(array_agg(DISTINCT t), '{}') INTO v_tags FROM unnest(tags) AS t;
    SELECT array_agg(DISTINCT s ORDER BY s) INTO v_sources FROM unnest(sources) AS s;
    v_src := ARRAY(SELECT DISTINCT CASE WHEN s LIKE '%-regular' THEN 'items' ELSE 'auto' END
                     FROM unnest(v_sources) AS s);
    SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) INTO v_total
      FROM pg_class c
     WHERE c.oid IN (SELECT to_regclass(CASE s WHEN 'items' THEN 'content_items'
                                                ELSE 'content_items_auto' END)
                       FROM unnest(v_src) AS s);
    v_total := greatest(v_total, 1);
    items_in_scope := v_total::bigint;
    k := cardinality(v_tags);

    -- per tag: items carrying it in these partitions, rarest first
    SELECT array_agg(t.tag ORDER BY t.n, t.tag), array_agg(t.n ORDER BY t.n, t.tag),
           bool_or(t.stale)
      INTO tag_ids, tag_counts, stats_stale
      FROM (SELECT u.tag,
                   coalesce(sum(st.cardinality), v_cfg.fallback_default_count)::bigint AS n,
                   coalesce(bool_or(st.updated_at < now() - make_interval(
                                secs => v_cfg.freshness_seconds)), true) AS stale
              FROM unnest(v_tags) AS u(tag)
              LEFT JOIN tag_cardinality_stats st
                     ON st.tag_id = u.tag AND st.content_source = ANY (v_src)
             GROUP BY u.tag) AS t;
    tag_ids := coalesce(tag_ids, '{}');
    tag_counts := coalesce(tag_counts, '{}');
    stats_stale := coalesce(stats_stale, false);
    rarest_count := tag_counts[1];

    IF k = 0 THEN
        strategy := 'order_first';
        estimated_candidates := v_total::bigint;
        reason := 'no tag filter: walk items newest first';
        RETURN NEXT;
        RETURN;
    END IF;

    IF match = 'any' THEN
        v_tag_cost := (SELECT sum(n) FROM unnest(tag_counts) AS n);
        v_density := least(1.0, v_tag_cost / v_total);
        estimated_candidates := least(v_tag_cost, v_total)::bigint;
    ELSE
        v_tag_cost := rarest_count;
        SELECT exp(sum(ln(greatest(least(n / v_total, 1.0), 1e-12)))) INTO v_density
          FROM unnest(tag_counts) AS n;
        estimated_candidates := least(rarest_count, greatest(v_density * v_total, 0))::bigint;
    END IF;
    v_walk := least(v_total, page_size / greatest(v_density, 1e-12));

    IF v_cfg.enable_order_first
       AND (v_walk * (1 + 0.5 * k) <= v_tag_cost
            OR v_tag_cost > v_cfg.seed_candidate_cap AND match = 'all'
               AND v_walk < v_total
            OR NOT (v_cfg.enable_self_join OR v_cfg.enable_group_having
                    OR v_cfg.enable_two_phase) AND match = 'all') THEN
        strategy := 'order_first';
        reason := format('walk ~%s items (density %s) rather than read %s links',
                         round(v_walk), round(v_density::numeric, 6), round(v_tag_cost));
    ELSIF match = 'any' THEN
        strategy := 'tag_union';
        reason := format('read %s links of %s tags rather than walk ~%s items',
                         round(v_tag_cost), k, round(v_walk));
    ELSIF k <= v_cfg.small_k_threshold AND v_cfg.enable_self_join THEN
        strategy := 'self_join';
        reason := format('%s tags <= small_k_threshold %s; rarest tag on %s items',
                         k, v_cfg.small_k_threshold, rarest_count);
    ELSIF rarest_count <= v_cfg.group_having_rarest_ceiling AND v_cfg.enable_group_having THEN
        strategy := 'group_having';
        reason := format('rarest tag on %s items <= group_having_rarest_ceiling %s',
                         rarest_count, v_cfg.group_having_rarest_ceiling);
    ELSIF v_cfg.enable_two_phase THEN
        strategy := 'two_phase';
        IF k >= v_cfg.two_phase_min_k_for_dual_seed
           AND rarest_count > v_cfg.two_phase_dual_seed_floor THEN
            seed_tags := tag_ids[1:2];
            reason := format('rarest tag on %s items > two_phase_dual_seed_floor %s: seed with two tags',
                             rarest_count, v_cfg.two_phase_dual_seed_floor);
        ELSE
            seed_tags := tag_ids[1:1];
            reason := format('seed with the rarest tag (%s items)', rarest_count);
        END IF;
    ELSIF v_cfg.enable_group_having THEN
        strategy := 'group_having';
        reason := 'two_phase disabled';
    ELSE
        strategy := 'self_join';
        reason := 'two_phase and group_having disabled';
    END IF;
    IF stats_stale THEN
        reason := reason || ' (tag statistics missing or stale: run gallery_stats_refresh())';
    END IF;
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery_plan(uuid[], text, text[], bigint, integer) IS
    'The strategy gallery_page would run for these filters, with its inputs and reason';
