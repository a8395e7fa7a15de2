CREATE OR REPLACE FUNCTION gallery._gallery_count_estimate(
    p_tag_nos integer[], p_match text, p_sources text[], p_viewer bigint)
RETURNS TABLE (items bigint, low bigint, high bigint, upper_bound bigint, sample xid)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
SET plan_cache_mode = force_generic_plan  -- the same few probes every call: plan them once
AS $$
#variable_conflict use_variable
DECLARE
    c_z constant double precision := 2.0;  -- Wilson interval, ~95% two-sided
    v_public varbit;
    v_sample xid;
    v_own varbit;
    v_none varbit;
    v_src varbit[];
    v_population bigint[];
    v_others varbit;  -- sampled items of others the viewer may see (not private)
    v_scope varbit;
    v_match varbit;
    v_counts bigint[];  -- per tag: items, then auto items (tag i at 2 * i - 1, 2 * i)
    v_bits varbit[];
    v_rarest integer;
    v_trials bigint;
    v_hits bigint;
    v_base double precision;
    v_upper double precision;
    v_p double precision;
    v_center double precision;
    v_half double precision;
    v_est double precision := 0;
    v_low double precision := 0;
    v_high double precision := 0;
    v_bound double precision := 0;
    v_community boolean;
    v_user boolean;
BEGIN
    /*
    Contract: gallery_count's estimate, for filters already checked and
    normalised by gallery_count: p_tag_nos the tags' numbers (all of them
    exist under 'all'; '{}' = no tag filter), p_sources the sources in
    scope. Reads the stats sample (count_sample_bits, drawn by
    gallery_stats_refresh) and the exact per-tag counts of the same refresh
    (tag_cardinality_stats). Per partition in scope:
      all (K >= 1): of the sampled items carrying the rarest tag, the share
          that carry every other tag and that the viewer may see, times the
          rarest tag's exact count (a ratio estimate: co-occurrence as the
          data has it, of any order);
      any, no tags: of the sampled items, the share matching (any tag; no
          tags: every item) that the viewer may see, times the partition's
          size.
    Visible = not private and not the viewer's (community-*), or the
    viewer's (user-*), from the sample's public and creator bit strings.
    low..high: the share's Wilson score interval (z = 2, ~95%) times the
    same factor, high capped by upper_bound; summed over the partitions.
    upper_bound: what the exact counts allow at most (all: the rarest tag's
    items; any: the tags' items, at most the partition; no tags: the
    partition), summed; gallery_count counts exactly below a threshold.
    sample: the version (xmin) of the sample's 'public' row read, which every
    gallery_stats_refresh rewrites: what gallery_count's memo checks.
    No row when no sample was drawn yet. Numbers are as of the last refresh.
    Cost: two statements (4 primary-key probes of count_sample_bits; per
    tag one of tags, two of tag_cardinality_stats, one of count_sample_bits)
    and bit operations over the sample (~2.5 KB per bit string at 20,000
    items; K + 9 of them at most), generic plans: ~0.1-0.2 ms.
    */

    SELECT (array_agg(b.bits) FILTER (WHERE b.dimension = 'public'))[1],
           (array_agg(b.xmin) FILTER (WHERE b.dimension = 'public'))[1],
           (array_agg(b.bits) FILTER (WHERE b.dimension = 'creator'))[1],
           array_agg(b.bits ORDER BY b.key) FILTER (WHERE b.dimension = 'source'),
           array_agg(b.population ORDER BY b.key) FILTER (WHERE b.dimension = 'source')
      INTO v_public, v_sample, v_own, v_src, v_population
      FROM public.count_sample_bits b
     WHERE (b.dimension, b.key) IN (('public', 0), ('source', 0), ('source', 1),
                                    ('creator', coalesce(p_viewer, -1)));
    IF v_public IS NULL OR cardinality(v_src) IS DISTINCT FROM 2 THEN
        RETURN;
    END IF;
    v_none := v_public # v_public;
    v_own := coalesce(v_own, v_none);
    IF cardinality(p_tag_nos) > 0 THEN
        -- every lookup a correlated subquery: an index probe per tag whatever the
        -- generic plan estimates (a join let it hash every tag's bit string)
        SELECT array_agg(x.n ORDER BY t.tag_no, x.source_no),
               array_agg(coalesce((SELECT b.bits FROM public.count_sample_bits b
                                    WHERE b.dimension = 'tag' AND b.key = t.tag_no), v_none)
                         ORDER BY t.tag_no)
                   FILTER (WHERE x.source_no = 0)
          INTO v_counts, v_bits
          FROM public.tags t
         CROSS JOIN LATERAL (
               SELECT 0 AS source_no, (SELECT st.cardinality FROM public.tag_cardinality_stats st
                                        WHERE st.tag_id = t.id AND st.content_source = 'items') AS n
               UNION ALL
               SELECT 1, (SELECT st.cardinality FROM public.tag_cardinality_stats st
                           WHERE st.tag_id = t.id AND st.content_source = 'auto')) AS x
         WHERE t.tag_no = ANY (p_tag_nos);
    END IF;

    -- the sampled items that match (every tag, any tag), and those others' items the
    -- viewer may see: the same in both partitions, computed once
    IF cardinality(p_tag_nos) > 0 THEN
        v_match := v_bits[1];
        FOR i IN 2 .. cardinality(v_bits) LOOP
            IF p_match = 'any' THEN
                v_match := v_match | v_bits[i];
            ELSE
                v_match := v_match & v_bits[i];
            END IF;
        END LOOP;
    END IF;
    v_others := v_public & ~v_own;
    FOR s IN 1 .. 2 LOOP  -- 1: items ('-regular'), 2: auto
        v_community := (CASE s WHEN 1 THEN 'community-regular' ELSE 'community-auto' END) = ANY (p_sources);
        v_user := (CASE s WHEN 1 THEN 'user-regular' ELSE 'user-auto' END) = ANY (p_sources);
        CONTINUE WHEN NOT (v_community OR v_user);
        v_scope := v_src[s] & CASE WHEN v_community AND v_user THEN v_others | v_own
                                   WHEN v_community THEN v_others
                                   ELSE v_own END;
        IF cardinality(p_tag_nos) = 0 THEN
            v_match := v_src[s];
            v_trials := bit_count(v_src[s]);
            v_base := v_population[s];
            v_upper := v_population[s];
        ELSIF p_match = 'any' THEN
            v_upper := 0;
            FOR i IN 1 .. cardinality(v_bits) LOOP
                v_upper := v_upper + coalesce(v_counts[2 * i - 2 + s], 0);
            END LOOP;
            v_trials := bit_count(v_src[s]);
            v_base := v_population[s];
            v_upper := least(v_upper, v_population[s]);
        ELSE
            v_rarest := 1;
            FOR i IN 2 .. cardinality(v_bits) LOOP
                IF coalesce(v_counts[2 * i - 2 + s], 0) < coalesce(v_counts[2 * v_rarest - 2 + s], 0) THEN
                    v_rarest := i;
                END IF;
            END LOOP;
            v_trials := bit_count(v_bits[v_rarest] & v_src[s]);
            v_base := coalesce(v_counts[2 * v_rarest - 2 + s], 0);
            v_upper := v_base;
        END IF;
        v_hits := bit_count(v_match & v_scope);
        v_bound := v_bound + v_upper;
        IF v_upper <= 0 THEN
            CONTINUE;
        ELSIF v_trials = 0 THEN  -- nothing of it in the sample: anything up to the bound
            v_est := v_est + v_upper / 2;
            v_high := v_high + v_upper;
            CONTINUE;
        END IF;
        v_p := v_hits::double precision / v_trials;
        v_center := (v_p + c_z ^ 2 / (2 * v_trials)) / (1 + c_z ^ 2 / v_trials);
        v_half := c_z / (1 + c_z ^ 2 / v_trials)
                  * sqrt(v_p * (1 - v_p) / v_trials + c_z ^ 2 / (4.0 * v_trials ^ 2));
        v_est := v_est + least(v_base * v_p, v_upper);
        v_low := v_low + least(v_base * greatest(v_center - v_half, 0), v_upper);
        v_high := v_high + least(v_base * least(v_center + v_half, 1), v_upper);
    END LOOP;
    items := round(v_est)::bigint;
    low := least(floor(v_low)::bigint, items);
    high := greatest(ceil(v_high)::bigint, items);
    upper_bound := ceil(v_bound)::bigint;
    sample := v_sample;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION gallery._gallery_count_estimate(integer[], text, text[], bigint) IS
    'Internal: gallery_count''s estimate from the stats sample, with a ~95% interval';
