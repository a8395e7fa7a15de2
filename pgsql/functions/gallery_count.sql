CREATE OR REPLACE FUNCTION gallery.gallery_count(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    cap       integer DEFAULT 10000)
RETURNS TABLE (items bigint, exact boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    v_sources text[];
    v_tag_nos integer[];
    v_cfg public.gallery_config;
BEGIN
    /*
    Contract: how many items gallery_page would return over all its pages for
    these filters (same parameters, defaults and errors as gallery_page:
    _gallery_check_args), counted as this viewer may see them (others'
    private items never), the way a UI shows it, like Elasticsearch's
    track_total_hits: exact = true and the number when there are at most cap;
    exact = false and items = cap ("at least cap") when there are more.
    Errors (22023): those of gallery_page's filters; cap outside
    1..1000000.
    Cost: at most cap + 1 matching rows read: the items with the tags from
    the GIN index on content_items_all.tag_nos (all: @>, any: &&), or, with no
    tags, the items in scope; PostgreSQL picks the index or a walk of the
    (created_at, id) index by its estimates, and stops at cap + 1.
    */
    IF cap IS NULL OR cap NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'cap must be between 1 and 1000000, got %', coalesce(cap::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'cap => 10000 counts exactly up to 10,000 and says "at least" past it';
    END IF;
    SELECT * INTO v_cfg FROM public.gallery_config;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, 1, NULL, 'strategy',
                                     v_cfg.max_tags);
    v_tag_nos := _gallery_tag_nos(tags, match);
    IF v_tag_nos IS NULL OR (cardinality(tags) > 0 AND cardinality(v_tag_nos) = 0) THEN
        RETURN QUERY SELECT 0::bigint, true;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
        'SELECT least(count(*), $3)::bigint, count(*) <= $3'
        '  FROM (SELECT 1 FROM public.content_items_all i WHERE %s AND %s LIMIT $3 + 1) AS m',
        _gallery_scope_sql(v_sources),
        CASE WHEN cardinality(v_tag_nos) = 0 THEN 'true'
             WHEN match = 'any' THEN 'i.tag_nos && $2'
             ELSE 'i.tag_nos @> $2' END)
      USING viewer_id, v_tag_nos, cap;
END
$$;

COMMENT ON FUNCTION gallery.gallery_count(uuid[], text, text[], bigint, integer) IS
    'How many items gallery_page would return for these filters: exact up to cap, else "at least cap"';
