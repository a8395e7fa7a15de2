CREATE OR REPLACE FUNCTION gallery.gallery_plan(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    page_size integer DEFAULT 25,
    plan_for  text    DEFAULT NULL)
RETURNS TABLE (strategy text, k integer, tag_ids uuid[], tag_counts bigint[],
               rarest_count bigint, estimated_candidates bigint, items_in_scope bigint,
               seed_tags uuid[], stats_stale boolean, reason text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the admin role calls it without reading the tables itself
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg public.gallery_config;
    v_tags uuid[];
    v_sources text[];
    v_src text[];
    v_total double precision;
    v_density double precision;
    v_walk double precision;
    v_skip double precision;  -- share of the feed a newest-first walk passes first
    v_newer real[];
    v_links double precision;
    v_costs jsonb;
    v_allowed text[];
    v_two_phase_seeds uuid[];
BEGIN
    /*
    Contract: which strategy gallery_page runs for these filters, and why.
    Arguments are checked as gallery_page checks them (_gallery_check_args:
    22023 with a message naming the parameter, plan_for standing for
    strategy); tags and sources are normalised (distinct) like it does.
    Inputs: per tag, the number of items carrying it in the sources' partitions
    (tag_cardinality_stats; fallback_default_count when a tag has none) and
    the share of the feed newer than the tag's items (newer_share); for pairs
    of frequent tags, how much more or less often they meet than independence
    predicts (tag_pair_stats.lift); the partitions' sizes (pg_class.reltuples);
    the knobs of gallery_config.
    Decision (docs/planner.md): no tags -> order_first. Otherwise each
    strategy's cost is estimated from those (order_first walks the newer
    part of the feed, then about page_size / (share of items matching there)
    items; the share under all is the rarest tag's times each other tag's
    share corrected by its lift with the rarest), and the cheapest of those
    allowed runs. Allowed: enabled
    (enable_*); self_join only for K <= small_k_threshold; group_having only
    when the rarest tag is on <= group_having_rarest_ceiling items; tag-first
    strategies only up to seed_candidate_cap candidates (unless order_first is
    off, or its walk is estimated to read more items than the cap). two_phase seeds with the two rarest tags when K >=
    two_phase_min_k_for_dual_seed and the rarest is on more than
    two_phase_dual_seed_floor items. tag_array (and order_first's array
    test) only with enable_tag_array. plan_for, when given, is the strategy
    to plan for (gallery_page's forced strategy): its seeds are returned
    whatever the cheapest would be.
    Cost: one index probe per tag into tag_cardinality_stats, one per tag
    into tag_pair_stats (all).
    */
    SELECT * INTO v_cfg FROM public.gallery_config;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, page_size,
                                     plan_for, 'plan_for', v_cfg.max_tags);
    SELECT coalesce(array_agg(DISTINCT t), '{}') INTO v_tags FROM unnest(tags) AS t;
    v_src := ARRAY(SELECT DISTINCT CASE WHEN s LIKE '%-regular' THEN 'items' ELSE 'auto' END
                     FROM unnest(v_sources) AS s);
    SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) INTO v_total
      FROM pg_class c
     WHERE c.oid IN (SELECT to_regclass(CASE s WHEN 'items' THEN 'public.content_items'
                                                ELSE 'public.content_items_auto' END)
                       FROM unnest(v_src) AS s);
    v_total := greatest(v_total, 1);
    items_in_scope := v_total::bigint;
    k := cardinality(v_tags);

    -- per tag: items carrying it in these partitions, rarest first
    SELECT array_agg(t.tag ORDER BY t.n, t.tag), array_agg(t.n ORDER BY t.n, t.tag),
           array_agg(t.newer ORDER BY t.n, t.tag), bool_or(t.stale)
      INTO tag_ids, tag_counts, v_newer, stats_stale
      FROM (SELECT u.tag,
                   coalesce(sum(st.cardinality), v_cfg.fallback_default_count)::bigint AS n,
                   min(st.newer_share) AS newer,
                   coalesce(bool_or(st.updated_at < now() - make_interval(
                                secs => v_cfg.freshness_seconds)), true) AS stale
              FROM unnest(v_tags) AS u(tag)
              LEFT JOIN public.tag_cardinality_stats st
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

    -- Estimated cost of each strategy, in microseconds as measured at full
    -- scale (docs/planner.md): walking one item with its first probe ~1.5,
    -- testing its tag_nos instead ~1.0; one more primary-key probe ~3.5; one
    -- link read ~0.5, read and grouped ~0.8; one seed's range count ~15; one
    -- candidate looked up ~7; one GIN posting read ~0.02; for all, the GIN
    -- scan steps through the rarest tag's postings and skips to them in the
    -- others' (~0.05 per posting and tag); one matching row read ~1.0.
    -- A newest-first walk first passes every item newer than where the tags' items
    -- start (tag_cardinality_stats.newer_share, sampled; unknown counts as 0): under
    -- all, the latest start of any tag; under any, the earliest. The matches then sit
    -- in the rest of the feed, denser by as much.
    v_links := (SELECT sum(n) FROM unnest(tag_counts) AS n);
    v_skip := CASE WHEN match = 'any' THEN (SELECT min(coalesce(x, 0)) FROM unnest(v_newer) AS x)
                   ELSE (SELECT max(coalesce(x, 0)) FROM unnest(v_newer) AS x) END;
    IF match = 'any' THEN
        v_density := least(1.0, v_links / v_total);
        estimated_candidates := least(v_links, v_total)::bigint;
    ELSE
        -- the share of items with every tag: the rarest tag's, times each other tag's
        -- share among the rarest tag's items, which is its own share times the pair's
        -- lift (tag_pair_stats, sampled: how much more or less often the two meet than
        -- independence predicts; 1 where the pair is not known)
        SELECT exp(sum(ln(greatest(least(u.n / v_total * coalesce(ps.lift, 1), 1.0), 1e-12))))
          INTO v_density
          FROM unnest(tag_ids, tag_counts) WITH ORDINALITY AS u(tag, n, ord)
          LEFT JOIN public.tag_pair_stats ps
                 ON u.ord > 1 AND ps.tag_a = least(u.tag, tag_ids[1])
                AND ps.tag_b = greatest(u.tag, tag_ids[1]);
        estimated_candidates := least(rarest_count, greatest(v_density * v_total, 0))::bigint;
        v_two_phase_seeds := CASE WHEN k >= v_cfg.two_phase_min_k_for_dual_seed
                                   AND rarest_count > v_cfg.two_phase_dual_seed_floor
                                  THEN tag_ids[1:2] ELSE tag_ids[1:1] END;
    END IF;
    v_walk := least(v_total, v_total * v_skip
                             + page_size / greatest(v_density / greatest(1 - v_skip, 1e-6), 1e-12));

    -- One estimate per strategy of the catalogue that serves this match
    -- (tag_array only with enable_tag_array); each formula is its strategy's
    -- own. A catalogued strategy without a formula here is an error, never
    -- silently left out.
    SELECT jsonb_object_agg(c.strategy, CASE c.strategy
               WHEN 'order_first' THEN
                   CASE WHEN v_cfg.enable_tag_array THEN to_jsonb(v_walk * 1.0)
                        WHEN match = 'any' THEN to_jsonb(v_walk * (1.5 + 3.5 * (k - 1)))
                        ELSE to_jsonb(v_walk * 1.5 + page_size * 3.5 * (k - 1)) END
               WHEN 'tag_array' THEN
                   CASE WHEN match = 'any' THEN to_jsonb(v_links * 0.02 + estimated_candidates * 1.0)
                        ELSE to_jsonb(rarest_count * 0.05 * k + estimated_candidates * 1.0) END
               WHEN 'self_join' THEN
                   to_jsonb(rarest_count * (0.5 + 3.5 * (k - 1)) + estimated_candidates * 7)
               WHEN 'group_having' THEN to_jsonb(v_links * 0.8 + estimated_candidates * 7)
               WHEN 'two_phase' THEN
                   to_jsonb(CASE WHEN cardinality(v_two_phase_seeds) = 2
                                 THEN rarest_count * (3.5 + 15 * least(tag_counts[2] / v_total, 1.0))
                                 ELSE rarest_count * 15 END
                            + estimated_candidates * 7)
               WHEN 'tag_union' THEN to_jsonb(v_links * 0.5 + estimated_candidates * 7)
               WHEN 'tag_walk' THEN
                   CASE WHEN match = 'any' THEN to_jsonb((page_size + k) * 2.0 + k * 5)
                        ELSE to_jsonb(least(rarest_count, (page_size + 1) * rarest_count
                                                          / greatest(estimated_candidates, 1))
                                      * 2.0) END
           END)
      INTO v_costs
      FROM _gallery_strategies() AS c
     WHERE match = ANY (c.matches)
       AND (c.strategy <> 'tag_array' OR v_cfg.enable_tag_array)
       -- tag_walk needs its index built (pydeploy apply builds it online after migration
       -- 0011) and, under all, the tag_nos test
       AND (c.strategy <> 'tag_walk'
            OR ((match = 'any' OR v_cfg.enable_tag_array)
                AND EXISTS (SELECT 1 FROM pg_index x
                             WHERE x.indexrelid = to_regclass('public.content_tags_tag_created_idx')
                               AND x.indisvalid)));
    IF EXISTS (SELECT 1 FROM jsonb_each(v_costs) AS e WHERE jsonb_typeof(e.value) = 'null') THEN
        RAISE EXCEPTION 'gallery_plan has no cost formula for strategy %, match %',
            (SELECT string_agg(e.key, ', ') FROM jsonb_each(v_costs) AS e
              WHERE jsonb_typeof(e.value) = 'null'), quote_literal(match)
            USING ERRCODE = 'internal_error',
                  HINT = 'every strategy of _gallery_strategies() needs a formula in gallery_plan';
    END IF;

    -- What may run: the switches, the seed's thresholds, the candidate cap.
    SELECT array_agg(s) INTO v_allowed
      FROM jsonb_object_keys(v_costs) AS s
     WHERE CASE s
             WHEN 'order_first' THEN v_cfg.enable_order_first
             WHEN 'self_join' THEN v_cfg.enable_self_join AND k <= v_cfg.small_k_threshold
             WHEN 'group_having' THEN v_cfg.enable_group_having
                                      AND rarest_count <= v_cfg.group_having_rarest_ceiling
             WHEN 'two_phase' THEN v_cfg.enable_two_phase
             WHEN 'tag_walk' THEN v_cfg.enable_tag_walk
             ELSE true
           END
       -- a walk stops at the page: the cap is for strategies that read all candidates
       AND (s IN ('order_first', 'tag_walk')
            OR (CASE WHEN match = 'any' THEN v_links ELSE rarest_count END)
               <= v_cfg.seed_candidate_cap
            OR NOT v_cfg.enable_order_first
            -- the cap bounds what a tag-first strategy reads; it must never leave a
            -- walk that reads even more as the only plan (an old tag under 'any' at
            -- full scale: 2.1 s walked where tag_array takes 84 ms)
            OR v_walk > v_cfg.seed_candidate_cap);
    IF v_allowed IS NULL THEN  -- every tag-first strategy ruled out and order_first off
        v_allowed := ARRAY[CASE WHEN match = 'any' THEN 'tag_union' ELSE 'two_phase' END];
    END IF;
    SELECT s INTO strategy FROM unnest(v_allowed) AS s ORDER BY (v_costs ->> s)::float8, s LIMIT 1;
    seed_tags := CASE WHEN coalesce(plan_for, strategy) = 'two_phase'
                      THEN coalesce(v_two_phase_seeds, tag_ids[1:1]) END;
    reason := format('cheapest of %s by estimate (%s); rarest tag on %s items, ~%s matches',
                     array_to_string(v_allowed, ', '),
                     (SELECT string_agg(format('%s %s ms', s, round(((v_costs ->> s)::numeric) / 1000, 2)),
                                        ', ' ORDER BY (v_costs ->> s)::float8)
                        FROM jsonb_object_keys(v_costs) AS s),
                     rarest_count, estimated_candidates);
    IF v_skip >= 0.01 THEN
        reason := reason || format('; a newest-first walk passes ~%s%% of the feed first',
                                   round(v_skip * 100));
    END IF;
    IF stats_stale THEN
        reason := reason || ' (tag statistics missing or stale: run gallery_stats_refresh())';
    END IF;
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery.gallery_plan(uuid[], text, text[], bigint, integer, text) IS
    'The strategy gallery_page would run for these filters, with its inputs and reason';
