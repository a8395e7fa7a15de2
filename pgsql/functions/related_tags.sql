CREATE OR REPLACE FUNCTION gallery.related_tags(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    max_tags  integer DEFAULT 20,
    sample    integer DEFAULT 1000)
RETURNS TABLE (tag_id uuid, name text, items bigint, sampled_items bigint, exact boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$  -- noqa: PLPGSQL_CHECK the OUT columns are filled by RETURN QUERY EXECUTE, which the check cannot follow
#variable_conflict use_variable
DECLARE
    v_sources text[];
    v_tags uuid[];
    v_tag_nos integer[];
    v_cfg public.gallery_config;
    v_plan record;  -- gallery_plan's pick for a page of these filters
BEGIN
    /*
    Contract: "narrow by" facets (Danbooru's related tags): the max_tags tags
    most common among the items gallery_page would return for these filters
    (same parameters, defaults and errors), the filter's own tags left out,
    most common first (then by name). Counted over the newest `sample`
    matches the viewer may see (others' private items never): items = how
    many of them carry the tag, sampled_items = how many matches were
    counted; exact = true when that is every match (fewer than `sample`), so
    the counts are exact; otherwise they are counts in the newest `sample`.
    Errors (22023): those of gallery_page's filters; max_tags outside
    1..100; sample outside 1..100000.
    Cost: gallery_plan's; the newest `sample` matches read the way it would
    read a page: order_first, a walk of the (created_at, id) index; tag_walk,
    a walk of the rarest tag's postings (any: at most `sample` postings of
    each tag), one item probe per posting, about sample / (share of the
    rarest tag's items that match) of them; tag_array, every match from the
    GIN index on tag_nos and a top-N sort; then their tag numbers grouped,
    one tags probe per tag among the max_tags most common (with ties).
    */
    IF max_tags IS NULL OR max_tags NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_tags must be between 1 and 100, got %', coalesce(max_tags::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'max_tags => 20, for example';
    END IF;
    IF sample IS NULL OR sample NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'sample must be between 1 and 100000, got %', coalesce(sample::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'sample => 1000 counts tags over the newest 1,000 matches';
    END IF;
    SELECT * INTO v_cfg FROM public.gallery_config;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, 1, NULL, 'strategy',
                                     v_cfg.max_tags);
    SELECT coalesce(array_agg(DISTINCT t), '{}') INTO v_tags FROM unnest(tags) AS t;
    v_tag_nos := _gallery_tag_nos(tags, match);
    IF v_tag_nos IS NULL OR (cardinality(tags) > 0 AND cardinality(v_tag_nos) = 0) THEN
        RETURN;
    END IF;
    -- The newest matches, read the way gallery_plan would read them for a page
    -- (of `sample` rows; 100 at most, its limit):
    -- order_first: the (created_at, id) index newest first, testing each item;
    -- tag_walk: the rarest tag's postings newest first (any: each tag's, merged),
    -- testing each item; tag_array: every match from the GIN index, then the newest
    -- of them (a walk would pass everything newer than a rare or old tag first).
    SELECT p.strategy, p.tag_ids INTO v_plan
      FROM gallery_plan(v_tags, match, v_sources, viewer_id, least(sample, 100)) AS p;
    RETURN QUERY EXECUTE format(  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
        'WITH m AS MATERIALIZED (%s)'
        'SELECT t.id, t.name::text, c.n, (SELECT count(*) FROM m), (SELECT count(*) FROM m) < $3'
        '  FROM (SELECT u.no, count(*) AS n FROM m CROSS JOIN LATERAL unnest(m.tag_nos) AS u(no)'
        '         WHERE u.no <> ALL ($2) GROUP BY u.no'
        '         ORDER BY count(*) DESC FETCH FIRST ($4) ROWS WITH TIES) AS c'  -- names of these only
        '  JOIN public.tags t ON t.tag_no = c.no'
        ' ORDER BY c.n DESC, t.name'
        ' LIMIT $4',
        CASE
        -- the item probe is fenced (OFFSET 0) so that it stays a probe per posting, in
        -- postings order: a join would let the planner hash every posting of the tag
        WHEN v_plan.strategy = 'tag_walk' AND match = 'all' THEN format(
            'SELECT x.tag_nos FROM ('
            '    SELECT ct.content_id, ct.content_source FROM public.content_tags ct'
            '     WHERE ct.tag_id = $5[1]'
            '     ORDER BY ct.created_at DESC, ct.content_id DESC) AS p'
            ' CROSS JOIN LATERAL ('
            '    SELECT i.tag_nos FROM public.content_items_all i'
            '     WHERE i.id = p.content_id AND i.source_type = p.content_source'
            '       AND %s AND i.tag_nos @> $2 OFFSET 0) AS x'
            ' LIMIT $3',
            _gallery_scope_sql(v_sources))
        WHEN v_plan.strategy = 'tag_walk' THEN format(
            'SELECT w.tag_nos FROM ('
            '    SELECT DISTINCT ON (w.created_at, w.content_id) w.*'
            '      FROM unnest($5) AS t(tag_id)'
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
            _gallery_scope_sql(v_sources))
        ELSE format(
            'SELECT c.tag_nos FROM ('
            '    SELECT i.tag_nos, i.created_at, i.id FROM public.content_items_all i'
            '     WHERE %s AND %s'
            '     %s) AS c'
            ' ORDER BY c.created_at DESC, c.id DESC LIMIT $3',
            _gallery_scope_sql(v_sources),
            CASE WHEN cardinality(v_tag_nos) = 0 THEN 'true'
                 WHEN match = 'any' THEN 'i.tag_nos && $2'
                 ELSE 'i.tag_nos @> $2' END,
            -- OFFSET 0 keeps the matches a subquery of their own: collected whole from
            -- the index, not walked in order
            CASE WHEN v_plan.strategy = 'order_first' THEN '' ELSE 'OFFSET 0' END)
        END)
      USING viewer_id, v_tag_nos, sample, max_tags, v_plan.tag_ids;
END
$$;

COMMENT ON FUNCTION gallery.related_tags(uuid[], text, text[], bigint, integer, integer) IS
    'The tags most common among the newest matches of a gallery filter ("narrow by")';
