CREATE OR REPLACE FUNCTION gallery._gallery_tag_walk_sql(
    p_match text, p_k integer, p_sources text[], p_forward boolean, p_has_cursor boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_dir text := CASE WHEN p_forward THEN 'DESC' ELSE 'ASC' END;
    v_walk text;
BEGIN
    /*
    Strategy tag_walk (match all or any): walk a tag's postings in page order
    from the cursor, in content_tags_tag_created_idx (tag_id, created_at DESC,
    content_id DESC) INCLUDE (content_source), and read each item's row (one
    primary-key probe) for the scope and the other tags. Tags are $4 (rarest
    first), their numbers $7.
      all: the rarest tag's postings ($4[1]); an item is kept when its
           tag_nos @> $7; stops at the page size ($5)
      any: one ordered walk per tag, merged in page order (Merge Append, each
           walk read only as far as the page needs), an item carrying several
           of the tags kept once (DISTINCT ON)
    gallery_page runs it with sequential and bitmap scans and sorts off, like
    order_first: the ordered walk stopping at the page is the only plan left.
    The whole query (all):
      SELECT ct.content_id, ct.content_source, ct.created_at  -- item_id, item_source, item_created_at
        FROM public.content_tags ct
        JOIN public.content_items_all i
          ON i.id = ct.content_id AND i.source_type = ct.content_source
       WHERE ct.tag_id = $4[1]
         AND (ct.created_at, ct.content_id) < ($2, $3)  -- prev: >; no cursor: true
         AND i.tag_nos @> $7
         AND <scope: sources, viewer $1>                 -- _gallery_scope_sql
       ORDER BY ct.created_at DESC, ct.content_id DESC   -- prev: ASC, ASC
       LIMIT $5
    (any: that walk once per tag $4[n], without the tag_nos test, as branches
    of a UNION ALL, then SELECT DISTINCT ON (created_at, content_id) ... ORDER
    BY ... LIMIT $5 over them.)
    Every final text (each match, scope, direction, cursor), pretty-printed:
    tests/golden/strategies/tag_walk-*.sql.
    Cost: all: one posting and one item probe per item of the rarest tag
    walked, about page_size / (share of its items that match) of them, at
    most the rarest tag's count in scope; its items' place in time does not
    matter (the walk starts at the cursor in the tag's own list). any: about
    page_size items in all, plus at most one posting per tag.
    */
    v_walk := format(
        'SELECT ct.content_id::bigint AS item_id, ct.content_source::text AS item_source,'
        '       ct.created_at AS item_created_at'
        '  FROM public.content_tags ct'
        '  JOIN public.content_items_all i'
        '    ON i.id = ct.content_id AND i.source_type = ct.content_source'
        ' WHERE ct.tag_id = $4[1] AND %s AND %s%s'
        ' ORDER BY ct.created_at %s, ct.content_id %s',
        CASE WHEN NOT p_has_cursor THEN 'true'
             WHEN p_forward THEN '(ct.created_at, ct.content_id) < ($2, $3)'
             ELSE '(ct.created_at, ct.content_id) > ($2, $3)' END,
        _gallery_scope_sql(p_sources),
        CASE WHEN p_match = 'all' THEN ' AND i.tag_nos @> $7' ELSE '' END,
        v_dir, v_dir);
    IF p_match = 'all' THEN
        RETURN v_walk || ' LIMIT $5';
    END IF;
    RETURN format(
        'SELECT DISTINCT ON (w.item_created_at, w.item_id) w.item_id, w.item_source, w.item_created_at'
        '  FROM (%s) AS w'
        ' ORDER BY w.item_created_at %s, w.item_id %s'
        ' LIMIT $5',
        (SELECT string_agg('(' || replace(v_walk, '$4[1]', format('$4[%s]', n)) || ')',
                           ' UNION ALL ' ORDER BY n)
           FROM generate_series(1, p_k) AS n),
        v_dir, v_dir);
END
$$;

COMMENT ON FUNCTION gallery._gallery_tag_walk_sql(text, integer, text[], boolean, boolean) IS
    'Gallery strategy tag_walk: walk the rarest tag''s items (any: each tag''s, merged) in page order';
