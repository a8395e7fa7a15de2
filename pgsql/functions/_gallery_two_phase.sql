CREATE OR REPLACE FUNCTION _gallery_two_phase(
    p_tags uuid[], p_sources text[], p_viewer_id bigint,
    p_after_created_at timestamptz, p_after_id bigint, p_forward boolean, p_limit integer,
    p_seed_tags uuid[])
RETURNS TABLE (item_id bigint, item_source text, item_created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    /*
    Strategy two_phase (match all; seed Proposal 5 C): phase one takes the
    items of the rarest tag, or of the two rarest (p_seed_tags, "dual seed")
    when even the rarest is common; phase two keeps the seeds that carry all
    K tags (their links grouped, HAVING count(*) = K). Unlike the seed's SQL
    the seed is never truncated: seed_candidate_cap steers the planner away
    from this strategy instead, so results stay exact.
    Cost: the seed tag's items (dual: plus one probe each), then about K probes
    per seed, plus one item lookup per match.
    */
    SELECT * FROM _gallery_page_keys(
        'WITH seed AS MATERIALIZED ('
        '    SELECT s1.content_id, s1.content_source FROM content_tags s1'
        '     WHERE s1.tag_id = ($6)[1]'
        '       AND (cardinality($6) = 1 OR EXISTS ('
        '            SELECT 1 FROM content_tags s2 WHERE s2.content_id = s1.content_id'
        '               AND s2.content_source = s1.content_source AND s2.tag_id = ($6)[2])))'
        ' SELECT ct.content_id, ct.content_source'
        '   FROM seed JOIN content_tags ct ON ct.content_id = seed.content_id'
        '    AND ct.content_source = seed.content_source AND ct.tag_id = ANY ($4)'
        '  GROUP BY 1, 2 HAVING count(*) = cardinality($4)',
        p_tags, p_sources, p_viewer_id, p_after_created_at, p_after_id, p_forward, p_limit,
        p_seed_tags)
$$;

COMMENT ON FUNCTION _gallery_two_phase(uuid[], text[], bigint, timestamptz, bigint, boolean, integer, uuid[]) IS
    'Gallery strategy two_phase: seed with the rarest tag(s), then check all tags';
