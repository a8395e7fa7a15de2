CREATE OR REPLACE FUNCTION gallery._gallery_stats_sample(
    p_sample_rows integer DEFAULT 20000, p_pair_tags integer DEFAULT 200)
RETURNS TABLE (sampled_items bigint, pair_rows bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_items double precision;
BEGIN
    /*
    Contract: the sampled part of gallery_stats_refresh (which calls it in its
    transaction, under its lock). From a Bernoulli sample of about
    p_sample_rows items (the same rows every run while the table is unchanged):
      tag_cardinality_stats.newer_share, per tag and source: the share of the
          source's sampled items that are newer than the newest sampled item
          carrying the tag (0: the tag is on the newest items; 0.9: a
          newest-first walk passes 90% of the feed before it); NULL for a tag
          the sample did not see (rare tags: the planner does not walk for
          them anyway);
      tag_pair_stats, for every pair of the p_pair_tags most frequent tags
          seen at least 20 times: lift = items with both / the number
          independence predicts, both counted over the whole sample from the
          tags' bit strings (a pair never seen together counts as half an
          item, so that lift stays a usable upper estimate);
      count_sample_bits, the sample itself for gallery_count's estimate: a
          bit string over the sample's positions per tag (tag_no), per
          creator, per source (with the partition's exact size) and for the
          items that are not private.
    Cost: one sampling pass over content_items_all (Bernoulli reads every
    page), a sort of the sample, one grouped pass over its tags, one AND and
    bit count of two bit strings per pair (at most p_pair_tags^2 / 2);
    the bit strings: one sort of the sample's links, sample-size characters
    per tag and creator seen in it (~0.1 s for 20,000 items with 3,000 tags),
    and a count of each partition (an index-only scan); an ANALYZE of the
    partitions first when one was never analyzed.
    */
    -- The sampling rate needs the partitions' sizes: a partition never analyzed
    -- (reltuples -1, e.g. right after a bulk load) would make it 100%, and every
    -- bit string as long as the table.
    IF EXISTS (SELECT 1 FROM pg_class c
                WHERE c.oid IN ('public.content_items'::regclass, 'public.content_items_auto'::regclass)
                  AND c.reltuples < 0) THEN
        ANALYZE public.content_items, public.content_items_auto;
    END IF;
    SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) INTO v_items
      FROM pg_class c
     WHERE c.oid IN ('public.content_items'::regclass, 'public.content_items_auto'::regclass);

    -- One statement, no temporary table (see gallery_stats_refresh); the upserts and
    -- the delete touch disjoint rows.
    RETURN QUERY
    WITH sample AS MATERIALIZED (
        SELECT i.source_type, i.created_at, i.tag_nos, i.is_private, i.creator_id,
               row_number() OVER () AS n
          FROM public.content_items_all i
               TABLESAMPLE BERNOULLI (least(100, 100.0 * p_sample_rows / greatest(v_items, 1)))
               REPEATABLE (20260101)
    ), newest AS (  -- per source and tag: the share of the source's sample newer than it
        SELECT r.source_type, n.tag_no, min(r.newer_share) AS newer_share
          FROM (SELECT x.source_type, x.tag_nos,
                       (rank() OVER w - 1)::real / count(*) OVER (PARTITION BY x.source_type)
                           AS newer_share
                  FROM sample x
                WINDOW w AS (PARTITION BY x.source_type ORDER BY x.created_at DESC)) AS r
         CROSS JOIN LATERAL unnest(r.tag_nos) AS n(tag_no)
         GROUP BY 1, 2
    ), timed AS (
        UPDATE public.tag_cardinality_stats st
           SET newer_share = seen.newer_share
          FROM (SELECT t.id AS tag_id, s.source_type, w.newer_share
                  FROM public.tags t
                 CROSS JOIN (VALUES ('items'), ('auto')) AS s(source_type)
                  LEFT JOIN newest w ON w.source_type = s.source_type AND w.tag_no = t.tag_no
               ) AS seen
         WHERE st.tag_id = seen.tag_id AND st.content_source = seen.source_type
    ), sampled AS (
        SELECT count(*)::integer AS m FROM sample
    ), tag_bits AS MATERIALIZED (  -- per tag number: its sampled items, as bits (one pass)
        SELECT u.tag_no, count(*) AS n,
               _gallery_bits(array_agg((x.n - 1)::integer), (SELECT m FROM sampled)) AS bits
          FROM sample x CROSS JOIN LATERAL unnest(x.tag_nos) AS u(tag_no)
         GROUP BY u.tag_no
    ), frequent AS MATERIALIZED (  -- the most frequent tags seen often enough
        SELECT f.tag_id, f.tag_no
          FROM (SELECT st.tag_id, t.tag_no
                  FROM public.tag_cardinality_stats st JOIN public.tags t ON t.id = st.tag_id
                 GROUP BY 1, 2 ORDER BY sum(st.cardinality) DESC, 1 LIMIT p_pair_tags) AS f
          JOIN tag_bits b ON b.tag_no = f.tag_no
         WHERE b.n >= 20
    ), fresh AS MATERIALIZED (
        SELECT least(a.tag_id, b.tag_id) AS tag_a, greatest(a.tag_id, b.tag_id) AS tag_b,
               (greatest(bit_count(ba.bits & bb.bits), 0.5) * (SELECT m FROM sampled)
                   / (ba.n * bb.n)::double precision)::real AS lift
          FROM frequent a
          JOIN frequent b ON a.tag_no < b.tag_no
          JOIN tag_bits ba ON ba.tag_no = a.tag_no
          JOIN tag_bits bb ON bb.tag_no = b.tag_no
    ), upserted AS (
        INSERT INTO public.tag_pair_stats AS ps (tag_a, tag_b, lift, updated_at)
        SELECT f.tag_a, f.tag_b, f.lift, now() FROM fresh f
        ON CONFLICT (tag_a, tag_b)
        DO UPDATE SET lift = EXCLUDED.lift, updated_at = EXCLUDED.updated_at
    ), removed AS (
        DELETE FROM public.tag_pair_stats ps
         WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.tag_a = ps.tag_a AND f.tag_b = ps.tag_b)
    ), bits AS MATERIALIZED (  -- bit i = the sample's item at position n - 1
        SELECT 'tag' AS dimension, t.tag_no::bigint AS key, t.bits, NULL::bigint AS population
          FROM tag_bits t
        UNION ALL
        SELECT 'creator', x.creator_id::bigint,
               _gallery_bits(array_agg((x.n - 1)::integer), (SELECT m FROM sampled)), NULL
          FROM sample x
         WHERE x.creator_id IS NOT NULL
         GROUP BY x.creator_id
        UNION ALL
        SELECT 'source', s.key,
               _gallery_bits(ARRAY(SELECT (x.n - 1)::integer FROM sample x
                                    WHERE x.source_type = s.source_type),
                             (SELECT m FROM sampled)),
               (SELECT count(*) FROM public.content_items_all i
                 WHERE i.source_type = s.source_type)
          FROM (VALUES ('items', 0), ('auto', 1)) AS s(source_type, key)
        UNION ALL
        SELECT 'public', 0,
               _gallery_bits(ARRAY(SELECT (x.n - 1)::integer FROM sample x WHERE NOT x.is_private),
                             (SELECT m FROM sampled)), NULL
    ), bits_upserted AS (
        INSERT INTO public.count_sample_bits AS cb (dimension, key, bits, population, updated_at)
        SELECT b.dimension, b.key, b.bits, b.population, now() FROM bits b
        ON CONFLICT (dimension, key)
        DO UPDATE SET bits = EXCLUDED.bits, population = EXCLUDED.population,
                      updated_at = EXCLUDED.updated_at
    ), bits_removed AS (
        DELETE FROM public.count_sample_bits cb
         WHERE NOT EXISTS (SELECT 1 FROM bits b WHERE b.dimension = cb.dimension AND b.key = cb.key)
    )
    SELECT (SELECT count(*) FROM sample), (SELECT count(*) FROM fresh);
END
$$;

COMMENT ON FUNCTION gallery._gallery_stats_sample(integer, integer) IS
    'Internal: sampled tag time and pair statistics for the planner (part of gallery_stats_refresh)';
