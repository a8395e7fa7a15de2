CREATE OR REPLACE FUNCTION gallery._gallery_order_first(  -- noqa: PD003 inlined into gallery_page's statement, whose search_path is pinned; a SET clause would stop the inlining and the plan caching
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
    Strategy order_first (match all or any, or no tags): walk the items in
    page order from the cursor (each partition's index (created_at DESC, id
    DESC), merged) and keep those in scope whose tag_nos hold every
    (@> p_tag_nos, all) or any (&&, any) of the tags; no tags: every item in
    scope. Stops at p_limit rows. When the scope is the viewer's own items
    only (user-* sources), the walk is in the creator's index (creator_id,
    created_at DESC, id DESC): their items alone, in page order.
    The parameters of every strategy (gallery_page passes them all, each
    strategy reads what it needs): p_tags the tags, rarest first; p_tag_nos
    their numbers (tags.tag_no); p_types, p_own, p_others the scope
    (_gallery_in_scope); p_after_at, p_after_id the cursor's position, or
    (infinity, 2^63 - 1) forward and (-infinity, -2^63) backward without
    one (p_has_cursor false), so that the same index condition starts every
    page; p_forward: direction next (older items, newest first) or prev
    (newer items, oldest first); p_limit rows at most, in walk order: the
    items' rows, which the page returns (no second read of them).
    gallery_page plans it once per session (a generic plan: the parameters
    are its variables) with sequential and bitmap scans and sorts off, so
    that the ordered walk stopping at the page is the plan.
    Cost: (items walked) x (one array test), items walked being about
    page_size / (share of the items walked that match): cheap when matches are
    dense (popular tags, no tag filter), up to every item in scope when they
    are rare. Never builds the match set.
    */
    -- Each branch's condition on direction and scope stands outside its LIMIT: given the
    -- direction as a constant (gallery_page's statements), PostgreSQL drops the other
    -- direction's branches from the plan (inside, each left a Limit, Sort and Result to start
    -- and end on every call); the scope's test stays a one-time filter.
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_items_all i
         WHERE (i.created_at, i.id) <= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND i.created_at = p_after_at AND i.id = p_after_id)
           AND i.source_type = ANY (p_types)
           AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                         p_own, p_others, p_viewer_id)
           AND (cardinality(p_tag_nos) = 0
                OR CASE p_match WHEN 'all' THEN i.tag_nos @> p_tag_nos
                                ELSE i.tag_nos && p_tag_nos END)
         ORDER BY i.created_at DESC, i.id DESC
         LIMIT p_limit) AS b
      WHERE p_forward AND cardinality(p_others) > 0)
    UNION ALL
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_items_all i
         WHERE (i.created_at, i.id) >= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND i.created_at = p_after_at AND i.id = p_after_id)
           AND i.source_type = ANY (p_types)
           AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                         p_own, p_others, p_viewer_id)
           AND (cardinality(p_tag_nos) = 0
                OR CASE p_match WHEN 'all' THEN i.tag_nos @> p_tag_nos
                                ELSE i.tag_nos && p_tag_nos END)
         ORDER BY i.created_at, i.id
         LIMIT p_limit) AS b
      WHERE NOT p_forward AND cardinality(p_others) > 0)
    UNION ALL
    -- the viewer's own items only (user-* sources): their walk in the creator's index
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_items_all i
         WHERE i.creator_id = p_viewer_id
           AND (i.created_at, i.id) <= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND i.created_at = p_after_at AND i.id = p_after_id)
           AND i.source_type = ANY (p_own)
           AND (cardinality(p_tag_nos) = 0
                OR CASE p_match WHEN 'all' THEN i.tag_nos @> p_tag_nos
                                ELSE i.tag_nos && p_tag_nos END)
         ORDER BY i.created_at DESC, i.id DESC
         LIMIT p_limit) AS b
      WHERE p_forward AND cardinality(p_others) = 0)
    UNION ALL
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_items_all i
         WHERE i.creator_id = p_viewer_id
           AND (i.created_at, i.id) >= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND i.created_at = p_after_at AND i.id = p_after_id)
           AND i.source_type = ANY (p_own)
           AND (cardinality(p_tag_nos) = 0
                OR CASE p_match WHEN 'all' THEN i.tag_nos @> p_tag_nos
                                ELSE i.tag_nos && p_tag_nos END)
         ORDER BY i.created_at, i.id
         LIMIT p_limit) AS b
      WHERE NOT p_forward AND cardinality(p_others) = 0)
$$;

COMMENT ON FUNCTION gallery._gallery_order_first(uuid[], integer[], text, text[], text[], text[], bigint, timestamptz, bigint, boolean, boolean, integer) IS
    'Gallery strategy order_first: walk items in page order, test each item''s tag_nos';
