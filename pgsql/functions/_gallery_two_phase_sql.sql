CREATE OR REPLACE FUNCTION gallery._gallery_two_phase_sql()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Strategy two_phase (match all; seed Proposal 5 C): phase one takes the
    items of the seed tags $6 (the rarest tag, or the two rarest, "dual seed",
    when even the rarest is common); phase two counts, for each seed, its
    links to the K tags ($4) with one primary-key range probe, and keeps the
    seeds that have all K. Unlike the seed's SQL the seed is never truncated:
    seed_candidate_cap steers the planner away from this strategy instead, so
    results stay exact. Both phases are forced into this shape (MATERIALIZED,
    LATERAL): see _gallery_self_join_sql for why.
    The whole query: _gallery_tag_first_page_sql wraps this list of items
    (content_id, content_source) as
      WITH m AS MATERIALIZED (<this list>)
      SELECT i.item_id, i.item_source, i.item_created_at
        FROM m CROSS JOIN LATERAL (
             SELECT i.id, i.source_type, i.created_at FROM public.content_items_all i
              WHERE i.id = m.content_id AND i.source_type = m.content_source
                AND <scope: sources, viewer $1> AND <keyset: past the cursor $2, $3>
              LIMIT 1) AS i
       ORDER BY i.item_created_at DESC, i.item_id DESC   -- prev: ASC, ASC
       LIMIT $5
    Every final text (each match, scope, direction, cursor), pretty-printed:
    tests/golden/strategies/two_phase-*.sql.
    Cost: the first seed tag's items (dual: plus one probe each), then one
    probe of K keys per seed.
    */
    SELECT 'WITH seed AS MATERIALIZED ('
           '    SELECT s1.content_id, s1.content_source FROM public.content_tags s1'
           '     WHERE s1.tag_id = ($6)[1]'
           '       AND (cardinality($6) = 1 OR EXISTS ('
           '            SELECT 1 FROM public.content_tags s2 WHERE s2.content_id = s1.content_id'
           '               AND s2.content_source = s1.content_source AND s2.tag_id = ($6)[2])))'
           ' SELECT seed.content_id, seed.content_source FROM seed'
           ' CROSS JOIN LATERAL (SELECT count(*) AS n FROM public.content_tags ct'
           '                      WHERE ct.content_id = seed.content_id'
           '                        AND ct.content_source = seed.content_source'
           '                        AND ct.tag_id = ANY ($4)) AS c'
           ' WHERE c.n = cardinality($4)'
$$;

COMMENT ON FUNCTION gallery._gallery_two_phase_sql() IS
    'Gallery strategy two_phase: seed with the rarest tag(s), then check all tags per seed';
