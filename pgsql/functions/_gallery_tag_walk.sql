CREATE OR REPLACE FUNCTION gallery._gallery_tag_walk(  -- noqa: PD003 inlined into gallery_page's statement, whose search_path is pinned; a SET clause would stop the inlining and the plan caching
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
    Strategy tag_walk (match all or any): walk a tag's postings in page order
    from the cursor, in content_tags_tag_created_idx (tag_id, created_at
    DESC, content_id DESC) INCLUDE (content_source), and read each item's row
    (one primary-key probe) for the scope and the other tags; returns those
    rows (the page's).
      all: the rarest tag's postings (p_tags[1]); an item is kept when its
           tag_nos @> p_tag_nos; stops at p_limit rows
      any: each tag's first p_limit postings in scope (one walk per tag),
           each item once, the first p_limit of them in page order
    Parameters: as _gallery_order_first's. gallery_page plans it like
    order_first (generic plan, sorts and scans other than the walk off).
    Cost: all: one posting and one item probe per item of the rarest tag
    walked, about page_size / (share of its items that match) of them, at
    most the rarest tag's count: its items' place in time does not matter
    (the walk starts at the cursor in the tag's own list), and tags that go
    together stop it early. any: at most p_limit postings and probes per
    tag, and a sort of those.
    */
    -- Each branch's condition on direction and match stands outside its LIMIT: given them as
    -- constants (gallery_page's statements), PostgreSQL drops the other branches from the plan
    -- (inside, each left a Limit, Sort and Result to start and end on every call).
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_tags ct
          JOIN public.content_items_all i
            ON i.id = ct.content_id AND i.source_type = ct.content_source
         WHERE ct.tag_id = p_tags[1]
           AND (ct.created_at, ct.content_id) <= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND ct.created_at = p_after_at AND ct.content_id = p_after_id)
           AND ct.content_source = ANY (p_types)
           AND i.tag_nos @> p_tag_nos
           AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                         p_own, p_others, p_viewer_id)
         ORDER BY ct.created_at DESC, ct.content_id DESC
         LIMIT p_limit) AS b
      WHERE p_forward AND p_match = 'all')
    UNION ALL
    (SELECT * FROM (
        SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
               i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
               i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb, i.is_private,
               i.quality_score::double precision, i.updated_at::timestamptz
          FROM public.content_tags ct
          JOIN public.content_items_all i
            ON i.id = ct.content_id AND i.source_type = ct.content_source
         WHERE ct.tag_id = p_tags[1]
           AND (ct.created_at, ct.content_id) >= (p_after_at, p_after_id)
           AND NOT (p_has_cursor AND ct.created_at = p_after_at AND ct.content_id = p_after_id)
           AND ct.content_source = ANY (p_types)
           AND i.tag_nos @> p_tag_nos
           AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                         p_own, p_others, p_viewer_id)
         ORDER BY ct.created_at, ct.content_id
         LIMIT p_limit) AS b
      WHERE NOT p_forward AND p_match = 'all')
    UNION ALL
    (SELECT * FROM (
        SELECT DISTINCT ON (w.created_at, w.id) w.*
          FROM unnest(p_tags) AS t(tag_id)
         CROSS JOIN LATERAL (
               SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz,
                      i.creator_id::bigint, i.title::text, i.content_type::text,
                      i.content_data::text, i.path_thumb::text, i.path_thumbs_alt_res::jsonb,
                      i.prompt::text, i.item_metadata::jsonb, i.is_private,
                      i.quality_score::double precision, i.updated_at::timestamptz
                 FROM public.content_tags ct
                 JOIN public.content_items_all i
                   ON i.id = ct.content_id AND i.source_type = ct.content_source
                WHERE ct.tag_id = t.tag_id
                  AND (ct.created_at, ct.content_id) <= (p_after_at, p_after_id)
                  AND NOT (p_has_cursor AND ct.created_at = p_after_at
                           AND ct.content_id = p_after_id)
                  AND ct.content_source = ANY (p_types)
                  AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                                p_own, p_others, p_viewer_id)
                ORDER BY ct.created_at DESC, ct.content_id DESC
                LIMIT p_limit) AS w
         ORDER BY w.created_at DESC, w.id DESC
         LIMIT p_limit) AS b
      WHERE p_forward AND p_match = 'any')
    UNION ALL
    (SELECT * FROM (
        SELECT DISTINCT ON (w.created_at, w.id) w.*
          FROM unnest(p_tags) AS t(tag_id)
         CROSS JOIN LATERAL (
               SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz,
                      i.creator_id::bigint, i.title::text, i.content_type::text,
                      i.content_data::text, i.path_thumb::text, i.path_thumbs_alt_res::jsonb,
                      i.prompt::text, i.item_metadata::jsonb, i.is_private,
                      i.quality_score::double precision, i.updated_at::timestamptz
                 FROM public.content_tags ct
                 JOIN public.content_items_all i
                   ON i.id = ct.content_id AND i.source_type = ct.content_source
                WHERE ct.tag_id = t.tag_id
                  AND (ct.created_at, ct.content_id) >= (p_after_at, p_after_id)
                  AND NOT (p_has_cursor AND ct.created_at = p_after_at
                           AND ct.content_id = p_after_id)
                  AND ct.content_source = ANY (p_types)
                  AND gallery._gallery_in_scope(i.source_type, i.creator_id, i.is_private,
                                                p_own, p_others, p_viewer_id)
                ORDER BY ct.created_at, ct.content_id
                LIMIT p_limit) AS w
         ORDER BY w.created_at, w.id
         LIMIT p_limit) AS b
      WHERE NOT p_forward AND p_match = 'any')
$$;

COMMENT ON FUNCTION gallery._gallery_tag_walk(uuid[], integer[], text, text[], text[], text[], bigint, timestamptz, bigint, boolean, boolean, integer) IS
    'Gallery strategy tag_walk: walk the rarest tag''s items (any: each tag''s) in page order';
