CREATE OR REPLACE FUNCTION gallery.related_tags(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    max_tags  integer DEFAULT 20,
    sample    integer DEFAULT NULL)  -- NULL: up to 1,000, bounded by tag links (below)
RETURNS TABLE (tag_id uuid, name text, items bigint, sampled_items bigint, exact boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
SET max_parallel_workers_per_gather = 0  -- a Gather costs more than these reads
SET enable_seqscan = on  -- _gallery_matches_sql turns scans off for its reading:
SET enable_bitmapscan = on  -- these clauses end that with the call
SET enable_indexscan = on
AS $$  -- noqa: PLPGSQL_CHECK the OUT columns are filled by RETURN QUERY EXECUTE, which the check cannot follow
#variable_conflict use_variable
DECLARE
    v_sources text[];
    v_tag_nos integer[];
    v_cfg public.gallery_config;
    v_plan record;  -- the planner's pick for reading `sample` matches
    c_default_sample constant integer := 1000;  -- matches read when sample is NULL
BEGIN
    /*
    Contract: "narrow by" facets (Danbooru's related tags): the max_tags tags
    most common among the items gallery_page would return for these filters
    (same parameters, defaults and errors), the filter's own tags left out,
    most common first (then by name). Counted over the newest matches the
    viewer may see (others' private items never): `sample` of them; by
    default (sample NULL) the newest 1,000 as far as their tags add up to
    gallery_config.related_tags_max_links links (at least one match), so
    that the work does not grow with the tags per item. items = how many of
    the counted matches carry the tag, sampled_items = how many matches were
    counted; exact = true when that is every match, so the counts are exact;
    otherwise they are counts in the newest sampled_items.
    Errors (22023): those of gallery_page's filters; max_tags outside
    1..100; sample outside 1..100000.
    Cost: the planner's (_gallery_choose, one stats probe per tag); the
    newest `sample` (or 1,000) matches, read the way its strategy for a page
    of that many rows would read them (_gallery_matches_sql): order_first, a
    walk of the (created_at, id) index; tag_walk, a walk of the rarest tag's
    postings (any: at most `sample` postings of each tag), one item probe
    per posting, about sample / (share of the rarest tag's items that match)
    of them; tag_merge, the two rarest tags' postings merged, one item probe
    per item both carry; tag_array, every match from the GIN index on
    tag_nos and a top-N sort; then the tag numbers of those counted grouped
    (~0.1-0.2 µs each: at most related_tags_max_links by default), one tags
    probe per tag among the max_tags most common (with ties).
    */
    IF max_tags IS NULL OR max_tags NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_tags must be between 1 and 100, got %', coalesce(max_tags::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'max_tags => 20, for example';
    END IF;
    IF sample NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'sample must be between 1 and 100000, got %', sample
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'sample => 1000 counts tags over the newest 1,000 matches; NULL (the default) bounds them by their tag links';
    END IF;
    SELECT * INTO v_cfg FROM public.gallery_config;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, 1, NULL, 'strategy',
                                     v_cfg.max_tags);
    v_tag_nos := _gallery_tag_nos(tags, match);
    IF v_tag_nos IS NULL OR (cardinality(tags) > 0 AND cardinality(v_tag_nos) = 0) THEN
        RETURN;
    END IF;
    -- the newest matches, read the way the planner's strategy for a page of that
    -- many rows would read them (bounded by its estimates), newest first; by default
    -- those before the one whose tags pass the budget of links (a running sum in the
    -- order read); then their tags grouped. Every match was counted when fewer than
    -- asked for were read and none was cut.
    SELECT p.strategy, p.tag_ids INTO v_plan
      FROM _gallery_choose_for(tags, match, v_sources, coalesce(sample, c_default_sample)) AS p;
    RETURN QUERY EXECUTE format(  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
        'WITH r AS MATERIALIZED ('
        '         SELECT x.tag_nos,'
        '                sum(cardinality(x.tag_nos)) OVER (ROWS UNBOUNDED PRECEDING)'
        '                - cardinality(x.tag_nos) AS links_before'
        '           FROM (%s) AS x),'
        '     m AS MATERIALIZED (SELECT r.tag_nos FROM r WHERE $6 IS NULL OR r.links_before < $6)'
        'SELECT t.id, t.name::text, c.n, (SELECT count(*) FROM m),'
        '       (SELECT count(*) FROM r) < $3 AND (SELECT count(*) FROM m) = (SELECT count(*) FROM r)'
        '  FROM (SELECT u.no, count(*) AS n'
        '          FROM (SELECT unnest(m.tag_nos) AS no FROM m) AS u'  -- (not a lateral call per row)
        '         WHERE u.no <> ALL ($2) GROUP BY u.no'
        '         ORDER BY count(*) DESC FETCH FIRST ($5) ROWS WITH TIES) AS c'  -- names of these only
        '  JOIN public.tags t ON t.tag_no = c.no'
        ' ORDER BY c.n DESC, t.name'
        ' LIMIT $5',
        _gallery_matches_sql(v_plan.strategy, match, v_sources, cardinality(v_tag_nos) > 0, true))
      USING viewer_id, v_tag_nos, coalesce(sample, c_default_sample), v_plan.tag_ids, max_tags,
            CASE WHEN sample IS NULL THEN v_cfg.related_tags_max_links END;
END
$$;

COMMENT ON FUNCTION gallery.related_tags(uuid[], text, text[], bigint, integer, integer) IS
    'The tags most common among the newest matches of a gallery filter ("narrow by")';
