CREATE OR REPLACE FUNCTION gallery._gallery_tag_array(  -- noqa: PD003 inlined into gallery_page's statement, whose search_path is pinned; a SET clause would stop the inlining and the plan caching
    p_tags uuid[], p_tag_nos integer[], p_match text, p_types text[], p_own text[],
    p_others text[], p_viewer_id bigint, p_after_at timestamptz, p_after_id bigint,
    p_has_cursor boolean, p_forward boolean, p_limit integer)
RETURNS TABLE (id bigint, source_type text, created_at timestamptz, creator_id bigint,
               title text, content_type text, content_data text, path_thumb text,
               path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb,
               is_private boolean, quality_score double precision, updated_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    /*
    Strategy tag_array (match all or any): the items of the tags from the
    GIN index on content_items_all.tag_nos, then the page in page order.
      all: tag_nos @> p_tag_nos; the GIN scan steps through the rarest tag's
           postings and skips ahead in the others' (no full read of a
           popular tag's list)
      any: tag_nos && p_tag_nos, the union of the tags' postings
    It reads at most gallery_config.seed_candidate_cap + 1 matches in scope
    (c): when there are more, the page is tag_walk's instead (among so many
    matches a walk stops early), so a wrong estimate of the matches costs
    at most the cap's. The matches are MATERIALIZED, so that PostgreSQL
    cannot walk the keyset index instead, and read lazily (the cap's LIMIT
    stops the scan); the cursor is tested in c's rows; a top-N sort keeps
    p_limit of them, whose rows are read again by primary key (c stays
    narrow). Parameters: as _gallery_order_first's.
    Cost: all: about the rarest tag's postings times K; any: the tags'
    postings; then one heap row per match, at most the cap + 1, a top-N
    sort of those past the cursor and p_limit primary-key probes; past the
    cap, tag_walk's too. gallery_plan runs it where the matches are few.
    */
    WITH cap AS (SELECT g.seed_candidate_cap AS n FROM public.gallery_config g),
    -- the matches in scope, read lazily: no more than the next statement asks for (a
    -- separate plan, for all of them: a LIMIT here would let the planner prefer a
    -- sequential scan that stops early)
    matches AS MATERIALIZED (  -- one of the two arms runs
         SELECT i.id::bigint AS id, i.source_type::text AS source_type,
                i.created_at::timestamptz AS created_at
           FROM public.content_items_all i
          WHERE p_match = 'all' AND i.tag_nos @> p_tag_nos
            AND i.source_type = ANY (p_types)
            AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                          p_own, p_others, p_viewer_id)
         UNION ALL
         SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz
           FROM public.content_items_all i
          WHERE p_match = 'any' AND i.tag_nos && p_tag_nos
            AND i.source_type = ANY (p_types)
            AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                          p_own, p_others, p_viewer_id)),
    c AS MATERIALIZED (SELECT * FROM matches LIMIT (SELECT cap.n FROM cap) + 1)
    -- all of them read: the page, in walk order
    (SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
            i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
            i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
            i.quality_score::double precision, i.updated_at::timestamptz
       FROM (SELECT c.id, c.source_type, c.created_at
               FROM c
              WHERE (p_forward AND (c.created_at, c.id) <= (p_after_at, p_after_id)
                     OR NOT p_forward AND (c.created_at, c.id) >= (p_after_at, p_after_id))
                AND NOT (p_has_cursor AND c.created_at = p_after_at AND c.id = p_after_id)
              ORDER BY CASE WHEN p_forward THEN c.created_at END DESC,
                       CASE WHEN p_forward THEN c.id END DESC,
                       c.created_at, c.id
              LIMIT p_limit) AS p
       JOIN public.content_items_all i ON i.id = p.id AND i.source_type = p.source_type
      WHERE (SELECT count(*) FROM c) <= (SELECT cap.n FROM cap)
      ORDER BY CASE WHEN p_forward THEN p.created_at END DESC,
               CASE WHEN p_forward THEN p.id END DESC,
               p.created_at, p.id)
    UNION ALL
    -- more than the cap: the page from tag_walk (whose walk stops early among so many)
    (SELECT w.*
       FROM gallery._gallery_tag_walk(p_tags, p_tag_nos, p_match, p_types, p_own, p_others,
                                      p_viewer_id, p_after_at, p_after_id, p_has_cursor,
                                      p_forward, p_limit) AS w
      WHERE (SELECT count(*) FROM c) > (SELECT cap.n FROM cap))
$$;

COMMENT ON FUNCTION gallery._gallery_tag_array(uuid[], integer[], text, text[], text[], text[], bigint, timestamptz, bigint, boolean, boolean, integer) IS
    'Gallery strategy tag_array: candidates from the GIN index on tag_nos, then a page';
