CREATE OR REPLACE FUNCTION gallery._gallery_count_postings(
    p_tags uuid[], p_types text[], p_viewer_id bigint, p_limit bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
SET enable_seqscan = off  -- the postings index, read in its order and stopped early,
SET enable_bitmapscan = off  -- whatever a generic plan estimates
AS $$
#variable_conflict use_variable
DECLARE
    -- the viewer's own private items are found by probing the tags' private postings'
    -- items (~3 µs each): up to this many, else the caller counts another way
    c_private_probes constant integer := 2000;
    v_tag uuid;
    v_tag_public bigint;
    v_public bigint;
    v_private bigint;
    v_own bigint;
BEGIN
    /*
    Contract: for gallery_count, the number of items that carry at least one of
    the tags p_tags (one tag: that tag) in a scope that shows every public item
    of the source types p_types and, with a viewer, the viewer's own private
    ones of those types too (sources with user-X and community-X both, or
    anonymous), read from the links' postings (content_tags_tag_created_idx,
    which carries is_private: migration 0018) without reading an item:
    at most p_limit (p_limit means "p_limit or more"). NULL when the viewer's
    part would take more than c_private_probes item probes: the caller then
    counts another way. Unknown tags add nothing. The caller checks that the
    index carries is_private (pydeploy completes it online) and that this
    transaction has no link change pending (its links would differ from the
    items' tag_nos, which gallery_page reads).
    Cost: public items: each tag's postings, index-only (~0.15 µs each),
    stopped at its p_limit-th public one (a tag on a share s of public items
    in scope: ~p_limit / s postings): the first tag to reach it ends the
    count; several tags none of which does: their public postings (fewer
    than p_limit each) read again and hashed, for distinct items. With a
    viewer, when the public ones are fewer than p_limit: the tags' private
    postings (index-only, at most c_private_probes + 1 of them counted), then
    one item probe each for its creator.
    */
    -- each tag alone first: one with p_limit public items settles it
    v_public := 0;
    FOREACH v_tag IN ARRAY p_tags LOOP
        SELECT count(*) INTO v_tag_public
          FROM (SELECT 1 FROM public.content_tags ct
                 WHERE ct.tag_id = v_tag AND NOT ct.is_private
                   AND ct.content_source = ANY (p_types)
                 LIMIT p_limit) AS p;
        IF v_tag_public >= p_limit THEN
            RETURN p_limit;
        END IF;
        v_public := v_tag_public;
    END LOOP;
    IF cardinality(p_tags) > 1 THEN  -- then every public posting of theirs, items once
        SELECT count(DISTINCT (ct.content_id, ct.content_source)) INTO v_public
          FROM public.content_tags ct
         WHERE ct.tag_id = ANY (p_tags) AND NOT ct.is_private
           AND ct.content_source = ANY (p_types);
    END IF;
    IF v_public >= p_limit OR p_viewer_id IS NULL THEN
        RETURN least(v_public, p_limit);
    END IF;
    SELECT count(*) INTO v_private
      FROM (SELECT 1 FROM public.content_tags ct
             WHERE ct.tag_id = ANY (p_tags) AND ct.is_private
               AND ct.content_source = ANY (p_types)
             LIMIT c_private_probes + 1) AS p;
    IF v_private > c_private_probes THEN
        RETURN NULL;
    END IF;
    SELECT count(DISTINCT (ct.content_id, ct.content_source)) INTO v_own  -- noqa: PD006 OFFSET 0 keeps one probe per posting (a join could read all the viewer's items), it pages nothing
      FROM public.content_tags ct
     CROSS JOIN LATERAL (
           SELECT 1 FROM public.content_items_all i
            WHERE i.id = ct.content_id AND i.source_type = ct.content_source
              AND i.creator_id = p_viewer_id
           OFFSET 0) AS own
     WHERE ct.tag_id = ANY (p_tags) AND ct.is_private AND ct.content_source = ANY (p_types);
    RETURN least(v_public + v_own, p_limit);
END
$$;

COMMENT ON FUNCTION gallery._gallery_count_postings(uuid[], text[], bigint, bigint) IS
    'Internal: count the items carrying any of these tags from their postings (public ones, and a viewer''s own private ones), up to a limit';
