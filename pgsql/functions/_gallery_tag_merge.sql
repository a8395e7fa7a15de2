CREATE OR REPLACE FUNCTION gallery._gallery_tag_merge(  -- noqa: PD003 inlined into gallery_page's statement, whose search_path is pinned; a SET clause would stop the inlining and the plan caching
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
    Strategy tag_merge (match all, two tags or more): the postings of the
    two rarest tags (p_tags[1], p_tags[2]) in page order from the cursor,
    both read from content_tags_tag_created_idx (tag_id, created_at DESC,
    content_id DESC) INCLUDE (content_source) by index-only scans and
    intersected by a merge join on (created_at, content_id); only the items
    in both are read (one primary-key probe each) for the scope and the
    other tags (tag_nos @> p_tag_nos); stops at p_limit rows, returned in
    walk order. p_match is 'all' (the catalogue serves no other); with one
    tag (only when forced: the planner costs it from two) its postings are
    merged with themselves.
    Parameters: as _gallery_order_first's. gallery_page plans it like
    order_first (generic plan, sorts and scans other than the walks off).
    Cost: the postings of both tags over the stretch of time the page
    spans (~0.15 µs each, index-only), and one item probe per item the two
    share there: where two frequent tags rarely meet, a page is found
    after reading a few thousand postings instead of probing as many items
    (tag_walk); where one tag is far more frequent than the other, it reads
    that many more of its postings, and tag_walk is cheaper. At most both
    tags' postings.
    */
    -- Each branch's condition on direction stands outside its LIMIT: given it as a constant
    -- (gallery_page's statements), PostgreSQL drops the other branch from the plan.
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_tags a
          JOIN public.content_tags b
            ON b.created_at = a.created_at AND b.content_id = a.content_id
           AND b.content_source = a.content_source
          JOIN public.content_items_all i
            ON i.id = a.content_id AND i.source_type = a.content_source
         WHERE a.tag_id = p_tags[1] AND b.tag_id = coalesce(p_tags[2], p_tags[1])
           AND (a.created_at, a.content_id) <= (p_after_at, p_after_id)
           AND (b.created_at, b.content_id) <= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND a.created_at = p_after_at AND a.content_id = p_after_id)
           AND a.content_source = ANY (p_types)
           AND i.tag_nos @> p_tag_nos
           AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                         p_own, p_others, p_viewer_id)
         ORDER BY a.created_at DESC, a.content_id DESC
         LIMIT p_limit) AS m
      WHERE p_forward)
    UNION ALL
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_tags a
          JOIN public.content_tags b
            ON b.created_at = a.created_at AND b.content_id = a.content_id
           AND b.content_source = a.content_source
          JOIN public.content_items_all i
            ON i.id = a.content_id AND i.source_type = a.content_source
         WHERE a.tag_id = p_tags[1] AND b.tag_id = coalesce(p_tags[2], p_tags[1])
           AND (a.created_at, a.content_id) >= (p_after_at, p_after_id)
           AND (b.created_at, b.content_id) >= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND a.created_at = p_after_at AND a.content_id = p_after_id)
           AND a.content_source = ANY (p_types)
           AND i.tag_nos @> p_tag_nos
           AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                         p_own, p_others, p_viewer_id)
         ORDER BY a.created_at, a.content_id
         LIMIT p_limit) AS m
      WHERE NOT p_forward)
$$;

COMMENT ON FUNCTION gallery._gallery_tag_merge(uuid[], integer[], text, text[], text[], text[], bigint, timestamptz, bigint, boolean, boolean, integer) IS
    'Gallery strategy tag_merge: the two rarest tags'' postings merged in page order (all, K >= 2)';
