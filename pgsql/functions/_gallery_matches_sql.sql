CREATE OR REPLACE FUNCTION gallery._gallery_matches_sql(
    p_strategy text, p_match text, p_sources text[], p_has_tags boolean, p_newest boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    /*
    Contract: for gallery_count and related_tags, the SQL of a subquery
    returning the tag_nos of the first $3 items that match a gallery filter
    (the items gallery_page would return for it), read the way the planner's
    strategy p_strategy (_gallery_choose, asked for a page of $3 rows) reads
    a page, so that what they read is bounded by the same estimates:
      order_first  the feed newest first ((created_at, id) index; the
                   creator's index when the scope is the viewer's own),
                   each item tested
      tag_walk     all: the rarest tag's postings newest first
                   (content_tags_tag_created_idx), one item probe each,
                   tested for the other tags; any: each tag's first $3
                   postings so, merged, each item once, the newest $3
      tag_merge    (all) the two rarest tags' postings newest first, merged,
                   one item probe per item both carry, tested for the rest
      tag_array    every match from the GIN index on tag_nos: the newest $3
                   of them (p_newest), or any $3 (a count needs no order)
      scan         (for counts, with tags, not p_newest) the items in scope in
                   the order of the table, at most $5 of them read (a
                   sequential scan, stopped early), each tested: any $3
                   matches among them; fewer does NOT mean that every match
                   was read
    Under p_newest every strategy returns the newest $3 matches; otherwise
    order_first, tag_walk and tag_merge still do, and tag_array returns any $3: either
    way, fewer than $3 rows means every match was read (tag_walk any: each
    tag's walk then read all of that tag's items), except for scan.
    Parameters of the SQL: $1 the viewer, $2 the tags' numbers (tag_nos to
    test), $3 how many matches, $4 the tags' ids rarest first
    (_gallery_choose's tag_ids), $5 scan's budget of items. p_sources: validated, normalised sources
    (_gallery_scope_sql states the scope rule). Without tags (p_has_tags
    false) every strategy reads the items in scope, in no particular order
    unless p_newest.
    Also sets, with set_config(..., true), the scans that keep the reading on
    its path whatever the estimates say (as gallery_page does for its
    strategies' statements): order_first, tag_walk and tag_merge, index scans only (no
    sequential or bitmap scan); tag_array, bitmap scans only (no plain index
    scan, no sequential scan); scan, none. The caller must declare SET clauses for
    enable_seqscan, enable_bitmapscan and enable_indexscan so that these end
    with its call.
    Cost: none (text and settings only).
    */
    IF p_strategy = 'scan' THEN
        RETURN format(
            'SELECT i.tag_nos FROM ('
            '    SELECT i.tag_nos FROM public.content_items_all i WHERE %s LIMIT $5) AS i'
            ' WHERE %s LIMIT $3',
            _gallery_scope_sql(p_sources),
            CASE WHEN p_match = 'any' THEN 'i.tag_nos && $2' ELSE 'i.tag_nos @> $2' END);
    END IF;
    IF p_has_tags THEN
        PERFORM set_config('enable_seqscan', 'off', true),
                set_config(CASE WHEN p_strategy = 'tag_array' THEN 'enable_indexscan'
                                ELSE 'enable_bitmapscan' END, 'off', true);
    END IF;
    IF p_strategy IN ('tag_walk', 'tag_merge') AND p_has_tags AND p_match = 'all' THEN
        -- the postings in page order (tag_walk: the rarest tag's; tag_merge: those the two
        -- rarest share), then an item probe each, fenced (OFFSET 0) so that it stays a
        -- probe per posting, in postings order: a join would let the planner hash them all
        RETURN format(
            'SELECT x.tag_nos FROM (%s) AS p'
            ' CROSS JOIN LATERAL ('
            '    SELECT i.tag_nos FROM public.content_items_all i'
            '     WHERE i.id = p.content_id AND i.source_type = p.content_source'
            '       AND %s AND i.tag_nos @> $2 OFFSET 0) AS x'
            ' LIMIT $3',
            CASE WHEN p_strategy = 'tag_walk' THEN
                'SELECT ct.content_id, ct.content_source FROM public.content_tags ct'
                ' WHERE ct.tag_id = $4[1]'
                ' ORDER BY ct.created_at DESC, ct.content_id DESC'
            ELSE
                'SELECT a.content_id, a.content_source FROM public.content_tags a'
                '  JOIN public.content_tags b'
                '    ON b.created_at = a.created_at AND b.content_id = a.content_id'
                '   AND b.content_source = a.content_source'
                ' WHERE a.tag_id = $4[1] AND b.tag_id = coalesce($4[2], $4[1])'
                ' ORDER BY a.created_at DESC, a.content_id DESC'
            END,
            _gallery_scope_sql(p_sources));
    ELSIF p_strategy = 'tag_walk' AND p_has_tags THEN
        RETURN format(
            'SELECT w.tag_nos FROM ('
            '    SELECT DISTINCT ON (w.created_at, w.content_id) w.*'
            '      FROM unnest($4) AS t(tag_id)'
            '     CROSS JOIN LATERAL ('
            '           SELECT p.created_at, p.content_id, x.tag_nos FROM ('
            '               SELECT ct.created_at, ct.content_id, ct.content_source'
            '                 FROM public.content_tags ct'
            '                WHERE ct.tag_id = t.tag_id'
            '                ORDER BY ct.created_at DESC, ct.content_id DESC) AS p'
            '            CROSS JOIN LATERAL ('
            '               SELECT i.tag_nos FROM public.content_items_all i'
            '                WHERE i.id = p.content_id AND i.source_type = p.content_source'
            '                  AND %s OFFSET 0) AS x'
            '            LIMIT $3) AS w) AS w'
            ' ORDER BY w.created_at DESC, w.content_id DESC LIMIT $3',
            _gallery_scope_sql(p_sources));
    ELSIF p_strategy = 'order_first' OR NOT p_has_tags THEN
        RETURN format(
            'SELECT i.tag_nos FROM public.content_items_all i'
            ' WHERE %s AND %s'
            ' %s LIMIT $3',
            _gallery_scope_sql(p_sources),
            CASE WHEN NOT p_has_tags THEN 'true'
                 WHEN p_match = 'any' THEN 'i.tag_nos && $2'
                 ELSE 'i.tag_nos @> $2' END,
            CASE WHEN p_has_tags OR p_newest THEN 'ORDER BY i.created_at DESC, i.id DESC' END);
    END IF;
    -- tag_array: OFFSET 0 keeps the matches a subquery of their own, collected
    -- whole from the index before the newest are taken
    RETURN format(
        'SELECT c.tag_nos FROM ('
        '    SELECT i.tag_nos, i.created_at, i.id FROM public.content_items_all i'
        '     WHERE %s AND %s'
        '     OFFSET 0) AS c'
        ' %s LIMIT $3',
        _gallery_scope_sql(p_sources),
        CASE WHEN p_match = 'any' THEN 'i.tag_nos && $2' ELSE 'i.tag_nos @> $2' END,
        CASE WHEN p_newest THEN 'ORDER BY c.created_at DESC, c.id DESC' END);
END
$$;

COMMENT ON FUNCTION gallery._gallery_matches_sql(text, text, text[], boolean, boolean) IS
    'Internal: SQL of the first matches of a gallery filter, read as a planner strategy reads a page';
