CREATE OR REPLACE FUNCTION gallery._gallery_cache_key(  -- noqa: PD003 inlined into gallery_page's cache lookup, whose search_path is pinned; a SET clause would stop the inlining
    p_tags uuid[], p_cursor text, p_page_size integer, p_match text, p_sources text[],
    p_viewer_id bigint, p_direction text)
RETURNS TABLE (key bytea, guard uuid[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$  -- noqa: PD006 OFFSET 0 fences a one-row subquery (its sort runs once), it pages nothing
    /*
    Contract: the page cache's key of a gallery_page call, and its guard (the
    gallery_cache_versions keys the page depends on: its distinct tags, or
    the nil uuid, "every item", without a tag filter). Calls that
    gallery_page answers alike share a key: tags in any order or repeated,
    sources in any order, NULL sources and the list they stand for (all four
    with viewer_id, community-* without). Everything else is kept as given,
    so that a call gallery_page refuses never shares a key with one it
    accepts (a cached page is served before the arguments are checked):
    NULL elements and unknown sources stay, tags' dimensions and "more than
    1000 elements" are part of the key. A cursor belongs to its filters, so it
    is part of the key as given.
    Key: sha256 of the canonical request, with every part quoted by
    format('%L'), NULL as NULL.
    Cost: a sort of the tags (none past 1000 elements); one sha256.
    */
    SELECT sha256(convert_to(format('page-v1 %L %L %L %L %L %L %L %L %L',
                                    c.tags, array_ndims(p_tags), cardinality(p_tags) > 1000,
                                    p_match, c.sources, p_viewer_id, p_page_size, p_direction,
                                    p_cursor), 'UTF8')),
           CASE WHEN cardinality(c.tags) > 0 THEN c.tags
                ELSE '{00000000-0000-0000-0000-000000000000}'::uuid[] END
      FROM (SELECT CASE WHEN cardinality(p_tags) <= 1000  -- (more: refused, and not sorted)
                        THEN ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t ORDER BY t)
                   END AS tags,
                   CASE WHEN p_sources IS NULL AND p_viewer_id IS NULL
                        THEN '{community-auto,community-regular}'::text[]
                        WHEN p_sources IS NULL
                        THEN '{community-auto,community-regular,user-auto,user-regular}'::text[]
                        WHEN array_ndims(p_sources) = 1
                         AND p_sources <@ '{community-auto,community-regular,user-auto,user-regular}'::text[]
                        THEN array_remove(ARRAY[
                                 CASE WHEN 'community-auto' = ANY (p_sources) THEN 'community-auto' END,
                                 CASE WHEN 'community-regular' = ANY (p_sources) THEN 'community-regular' END,
                                 CASE WHEN 'user-auto' = ANY (p_sources) THEN 'user-auto' END,
                                 CASE WHEN 'user-regular' = ANY (p_sources) THEN 'user-regular' END], NULL)
                        ELSE p_sources  -- refused by gallery_page: kept as given
                   END AS sources
            OFFSET 0) AS c  -- (computed once, not once per reference)
$$;

COMMENT ON FUNCTION gallery._gallery_cache_key(uuid[], text, integer, text, text[], bigint, text) IS
    'Internal: the page cache''s key and guard of a gallery_page call';
