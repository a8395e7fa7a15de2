CREATE OR REPLACE FUNCTION gallery._gallery_choose(
    p_tags uuid[], p_match text, p_types text[], p_own_only boolean, p_page_size integer,
    p_strategy text)
RETURNS TABLE (strategy text, tag_ids uuid[], tag_counts bigint[], rarest_count bigint,
               estimated_candidates bigint, items_in_scope bigint, walk_skip double precision,
               costs jsonb, stats_stale boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_cfg public.gallery_config;
    v_k integer := cardinality(p_tags);
    v_total double precision;
    v_own_share double precision := 1;  -- of the items walked, the share in scope
    -- tag_walk's index is valid once the tag-first index it replaces is gone:
    -- pydeploy's online step drops that one only after building this one
    -- (two catalog cache probes; reading pg_index costs a scan of it)
    v_walk_ready boolean := to_regclass('public.content_tags_tag_created_idx') IS NOT NULL
                            AND to_regclass('public.content_tags_tag_source_content_idx') IS NULL;
    v_tag record;
    v_links double precision;
    v_gin_pages double precision := 0;  -- under all: the other tags' posting pages GIN visits
    v_density double precision;
    v_walk double precision;
    v_pair_share double precision;  -- under all: of the rarest tag's items, the share with the second
    v_walked double precision;  -- tag_walk and tag_merge: postings of the rarest tag read
    v_walk_cost double precision;  -- tag_walk's estimate, allowed or not (tag_array's switch)
    c_order_first double precision;
    c_tag_array double precision;
    c_tag_walk double precision;
    c_tag_merge double precision;
BEGIN
    /*
    Contract: the planner's core, for gallery_page (through _gallery_request)
    and gallery_plan, which check the arguments first: p_tags distinct,
    p_types the source types in scope ('items', 'auto'), p_strategy a forced
    strategy or NULL. Returns the strategy to run (the forced one, or the
    cheapest allowed by estimate), the tags rarest first with their counts,
    the estimates, and the estimated cost in microseconds of each strategy
    that serves the match (costs: NULL for one not allowed here).
    p_own_only: the sources are the viewer's own items only (user-*), a share
    of the items assumed to be 1 / (number of users).
    Inputs: per tag, the items carrying it in those partitions
    (tag_cardinality_stats; fallback_default_count without one) and the
    share of the feed newer than its items (newer_share); under all, the
    lift of each other tag with the rarest (tag_pair_stats: how much more or
    less often they meet than independence predicts); the partitions' sizes
    (pg_class.reltuples); whether content_tags_tag_created_idx is built
    (tag_walk and tag_merge need it); the knobs.
    Estimates (docs/planner.md), in microseconds as measured at full scale:
      order_first  ~1.0 per item walked: the newer part of the feed the tags'
                   items start after (newer_share: all, the latest start; any,
                   the earliest), then page_size / (share of items matching);
                   own items only: page_size / that share, in the creator's
                   items
      tag_walk     all: ~2.0 per posting of the rarest tag walked, page_size
                   / (share of its items that match), at most its count;
                   any: ~2.0 per posting, page_size + 1 per tag (own items
                   only: divided by their share)
      tag_merge    all, two tags or more: ~0.15 per posting of the two rarest
                   tags read, those of the rarest as tag_walk's, the second's
                   over the same share of its list (at most its count), and
                   ~2.0 per item both carry there (the rarest's postings
                   read times the second's share among them, with their lift)
      tag_array    ~0.05 per posting and tag (all) or ~0.02 per posting
                   (any), ~1.0 per match read, at most seed_candidate_cap + 1
                   of them; under all also ~8.0 per page of another tag's GIN
                   posting tree that the rarest tag's items lead into: at
                   most the rarest tag's count, at most that tag's count /
                   2,000 (postings per page); past the cap, tag_walk's too
                   (the page is tag_walk's)
    The share under all: the rarest tag's, times each other tag's share
    times its lift with the rarest. Allowed: the enable_* knobs; none
    allowed: tag_array.
    Without tags: order_first.
    Cost: gallery_config's one row, one statement reading one stats row per
    tag and source, one pair row per tag (all), three pg_class rows (the
    partitions, users).
    */
    SELECT * INTO v_cfg FROM public.gallery_config;
    -- (every query here keeps its plan whatever the values: PostgreSQL caches a
    -- generic one after a few calls, and gallery_page asks for generic plans)
    SELECT coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE c.relname <> 'users'), 0),
           CASE WHEN p_own_only THEN 1 / greatest(max(c.reltuples) FILTER (WHERE c.relname = 'users'), 1)
                ELSE 1 END
      INTO v_total, v_own_share
      FROM pg_class c
     WHERE c.oid = ANY (ARRAY[CASE WHEN 'items' = ANY (p_types) THEN 'public.content_items'::regclass END,
                              CASE WHEN 'auto' = ANY (p_types) THEN 'public.content_items_auto'::regclass END,
                              'public.users'::regclass]);
    v_total := greatest(v_total, 1);
    items_in_scope := v_total::bigint;
    IF v_k = 0 THEN
        strategy := coalesce(p_strategy, 'order_first');
        tag_ids := '{}';
        tag_counts := '{}';
        estimated_candidates := items_in_scope;
        stats_stale := false;
        costs := jsonb_build_object('order_first', p_page_size * 1.0);
        RETURN NEXT;
        RETURN;
    END IF;

    -- one row per tag, rarest first (a loop, not ordered aggregates: those cost
    -- more to start than the whole loop); LATERAL keeps each tag's statistics an
    -- index probe whatever the generic plan estimates
    tag_ids := '{}';
    tag_counts := '{}';
    v_links := 0;
    stats_stale := false;
    FOR v_tag IN
        SELECT u.tag, s.n, s.newer, s.stale
          FROM unnest(p_tags) AS u(tag)
         CROSS JOIN LATERAL (
               SELECT coalesce(sum(st.cardinality), v_cfg.fallback_default_count)::bigint AS n,
                      coalesce(min(st.newer_share), 0) AS newer,
                      coalesce(bool_or(st.updated_at < now() - make_interval(
                                   secs => v_cfg.freshness_seconds)), true) AS stale
                 FROM public.tag_cardinality_stats st
                WHERE st.tag_id = u.tag AND st.content_source = ANY (p_types)) AS s
         ORDER BY s.n, u.tag
    LOOP
        tag_ids := tag_ids || v_tag.tag;
        tag_counts := tag_counts || v_tag.n;
        v_links := v_links + v_tag.n;
        stats_stale := stats_stale OR v_tag.stale;
        walk_skip := CASE WHEN p_match = 'any' THEN least(walk_skip, v_tag.newer)
                          ELSE greatest(walk_skip, v_tag.newer) END;
        IF cardinality(tag_counts) > 1 THEN  -- not the rarest (the first row)
            v_gin_pages := v_gin_pages + least(tag_counts[1], v_tag.n / 2000.0);
        END IF;
    END LOOP;
    rarest_count := tag_counts[1];
    IF p_match = 'any' THEN
        v_density := least(1.0, v_links / v_total);
        estimated_candidates := least(v_links, v_total)::bigint;
    ELSIF v_k = 1 THEN  -- the statement below, for one tag
        v_density := greatest(least(rarest_count / v_total, 1.0), 1e-12);
        estimated_candidates := least(rarest_count, greatest(v_density * v_total, 0))::bigint;
    ELSE
        -- each tag's share: the rarest's of all items, each other's of the rarest's items
        SELECT exp(sum(ln(greatest(x.share, 1e-12)))), max(x.share) FILTER (WHERE x.ord = 2)
          INTO v_density, v_pair_share
          FROM (SELECT u.ord,
                       least(u.n / v_total
                             * coalesce(CASE WHEN u.ord > 1 THEN
                                            (SELECT ps.lift FROM public.tag_pair_stats ps
                                              WHERE ps.tag_a = least(u.tag, tag_ids[1])
                                                AND ps.tag_b = greatest(u.tag, tag_ids[1])) END, 1),
                             1.0) AS share
                  FROM unnest(tag_ids, tag_counts) WITH ORDINALITY AS u(tag, n, ord)) AS x;
        estimated_candidates := least(rarest_count, greatest(v_density * v_total, 0))::bigint;
    END IF;
    v_walk := CASE WHEN p_own_only  -- the creator's own items, in the creator index
                   THEN least(v_total * v_own_share, p_page_size / greatest(v_density, 1e-12))
                   ELSE least(v_total, v_total * walk_skip
                                       + p_page_size / greatest(v_density / greatest(1 - walk_skip, 1e-6), 1e-12))
              END;

    c_order_first := CASE WHEN v_cfg.enable_order_first THEN v_walk * 1.0 END;
    v_walked := least(rarest_count, (p_page_size + 1) * rarest_count
                                    / greatest(estimated_candidates * v_own_share, 1));
    v_walk_cost := CASE WHEN p_match = 'any' THEN (p_page_size + 1) * v_k * 2.0 / v_own_share
                        ELSE v_walked * 2.0 END;
    c_tag_walk := CASE WHEN v_cfg.enable_tag_walk AND coalesce(v_walk_ready, false) THEN
                      v_walk_cost
                  END;
    c_tag_merge := CASE WHEN v_cfg.enable_tag_merge AND coalesce(v_walk_ready, false)
                             AND p_match = 'all' AND v_k >= 2 THEN
                       (v_walked + least(tag_counts[2], v_walked * tag_counts[2]
                                                        / greatest(rarest_count, 1))) * 0.15
                       + v_walked * v_pair_share * 2.0
                   END;
    -- tag_array reads at most seed_candidate_cap matches; past it, the page is tag_walk's
    -- (the switch's cost: the cap's matches read, then the walk, enabled or not)
    c_tag_array := CASE WHEN v_cfg.enable_tag_array THEN
                       CASE WHEN p_match = 'any' THEN v_links * 0.02
                            ELSE rarest_count * 0.05 * v_k + v_gin_pages * 8.0 END
                       + least(estimated_candidates, v_cfg.seed_candidate_cap + 1) * 1.0
                       + CASE WHEN estimated_candidates > v_cfg.seed_candidate_cap THEN v_walk_cost
                              ELSE 0 END
                   END;
    costs := jsonb_build_object('order_first', c_order_first, 'tag_walk', c_tag_walk,
                                'tag_array', c_tag_array)
             || CASE WHEN p_match = 'all' THEN jsonb_build_object('tag_merge', c_tag_merge)
                     ELSE '{}' END;  -- (the strategies that serve the match)
    strategy := coalesce(p_strategy,
                         CASE WHEN c_tag_merge < coalesce(c_tag_walk, 'Infinity')
                                   AND c_tag_merge <= coalesce(c_order_first, 'Infinity')
                                   AND c_tag_merge <= coalesce(c_tag_array, 'Infinity')
                                  THEN 'tag_merge'
                              WHEN c_tag_walk <= coalesce(c_order_first, 'Infinity')
                                   AND c_tag_walk <= coalesce(c_tag_array, 'Infinity')
                                  THEN 'tag_walk'
                              WHEN c_order_first <= coalesce(c_tag_array, 'Infinity')
                                  THEN 'order_first'
                              ELSE 'tag_array' END);
    RETURN NEXT;
END
$$;

COMMENT ON FUNCTION gallery._gallery_choose(uuid[], text, text[], boolean, integer, text) IS
    'Internal: the planner''s core: the strategy for checked filters, with its inputs and estimates';
