CREATE OR REPLACE FUNCTION gallery._gallery_count_postings(
    p_tags uuid[], p_tag_nos integer[], p_types text[], p_viewer_id bigint, p_limit bigint,
    -- the viewer's own private items: found by probing the tags' private postings' items
    -- (~3 µs each), up to this many, or by reading the viewer's items (~1 µs each), up to
    -- this many; else the caller counts another way
    p_probe_budget integer DEFAULT 2000, p_read_budget integer DEFAULT 6000)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
SET enable_seqscan = off  -- the postings index, read in its order and stopped early,
SET enable_bitmapscan = off  -- whatever a generic plan estimates
AS $$
#variable_conflict use_variable
DECLARE
    v_tag uuid;
    v_public bigint;
    v_private bigint;
    v_viewer_items bigint;
    v_own bigint;
BEGIN
    /*
    Contract: for gallery_count, the number of items that carry at least one
    of the tags p_tags (one tag: that tag) in a scope that shows every public
    item of the source types p_types and, with a viewer, the viewer's own
    private ones of those types too (sources with user-X and community-X
    both, or anonymous), read from the links' postings
    (content_tags_tag_created_idx, which carries is_private since migration
    0018; public items without reading an item): at most p_limit (p_limit
    means "p_limit or more"). p_tag_nos: the tags' numbers. NULL when the
    viewer's part would take more than p_probe_budget item probes and more
    than p_read_budget item reads: the caller then counts another way.
    Unknown tags add nothing. The caller checks that the index carries
    is_private (pydeploy completes it online) and that this transaction has
    no link change pending (its links would differ from the items' tag_nos,
    which gallery_page reads).
    Cost: public items: the tag on the most items (one statistics probe per
    tag) alone, its postings index-only (~0.15-0.4 µs each), stopped at its
    p_limit-th public one (a tag on a share s of public items in scope:
    ~p_limit / s postings): that settles a popular tag's count. Short of it,
    with several tags: each tag's postings again, at most p_limit public
    ones each, hashed for distinct items. With a viewer, when the public ones
    are fewer than p_limit: the tags' private postings and the viewer's items
    are counted (index-only, up to their budgets + 1), then the cheaper read:
    one item probe per private posting for its creator, or the viewer's items
    in the creator index, tested.
    */
    -- the tag on the most items (statistics) alone first: p_limit public items of it
    -- settle the count
    SELECT t.tag_id INTO v_tag
      FROM unnest(p_tags) AS t (tag_id)
     ORDER BY (SELECT sum(s.cardinality) FROM public.tag_cardinality_stats s
                WHERE s.tag_id = t.tag_id) DESC NULLS LAST
     LIMIT 1;
    SELECT count(*) INTO v_public
      FROM (SELECT 1 FROM public.content_tags ct
             WHERE ct.tag_id = v_tag AND NOT ct.is_private
               AND ct.content_source = ANY (p_types)
             LIMIT p_limit) AS p;
    IF v_public < p_limit AND cardinality(p_tags) > 1 THEN
        -- then each tag's first p_limit public postings, items once: p_limit or more
        -- means at least p_limit, fewer is every public item of theirs
        SELECT count(*) INTO v_public
          FROM (SELECT DISTINCT p.content_id, p.content_source
                  FROM unnest(p_tags) AS t (tag_id)
                 CROSS JOIN LATERAL (
                       SELECT ct.content_id, ct.content_source FROM public.content_tags ct
                        WHERE ct.tag_id = t.tag_id AND NOT ct.is_private
                          AND ct.content_source = ANY (p_types)
                        LIMIT p_limit) AS p) AS d;
    END IF;
    IF v_public >= p_limit OR p_viewer_id IS NULL THEN
        RETURN least(v_public, p_limit);
    END IF;
    -- the viewer's own private items: whichever is fewer reads, the tags' private
    -- postings (an item probe each) or the viewer's items (creator index, ~3x cheaper
    -- a row), each counted index-only first, up to its budget
    SELECT count(*) INTO v_private
      FROM (SELECT 1 FROM public.content_tags ct
             WHERE ct.tag_id = ANY (p_tags) AND ct.is_private
               AND ct.content_source = ANY (p_types)
             LIMIT p_probe_budget + 1) AS p;
    SELECT count(*) INTO v_viewer_items
      FROM (SELECT 1 FROM public.content_items_all i
             WHERE i.creator_id = p_viewer_id AND i.source_type = ANY (p_types)
             LIMIT p_read_budget + 1) AS v;
    IF v_viewer_items <= p_read_budget
       AND (v_private > p_probe_budget OR v_viewer_items <= 3 * v_private) THEN
        SELECT count(*) INTO v_own
          FROM public.content_items_all i
         WHERE i.creator_id = p_viewer_id AND i.source_type = ANY (p_types)
           AND i.is_private AND i.tag_nos && p_tag_nos;
    ELSIF v_private <= p_probe_budget THEN
        SELECT count(DISTINCT (ct.content_id, ct.content_source)) INTO v_own  -- noqa: PD006 OFFSET 0 keeps one probe per posting (a join could read all the viewer's items), it pages nothing
          FROM public.content_tags ct
         CROSS JOIN LATERAL (
               SELECT 1 FROM public.content_items_all i
                WHERE i.id = ct.content_id AND i.source_type = ct.content_source
                  AND i.creator_id = p_viewer_id
               OFFSET 0) AS own
         WHERE ct.tag_id = ANY (p_tags) AND ct.is_private AND ct.content_source = ANY (p_types);
    ELSE
        RETURN NULL;
    END IF;
    RETURN least(v_public + v_own, p_limit);
END
$$;

COMMENT ON FUNCTION gallery._gallery_count_postings(uuid[], integer[], text[], bigint, bigint, integer, integer) IS
    'Internal: count the items carrying any of these tags from their postings (public ones, and a viewer''s own private ones), up to a limit';
