CREATE OR REPLACE FUNCTION gallery._gallery_choose_for(
    p_tags uuid[], p_match text, p_sources text[], p_rows integer)
RETURNS TABLE (strategy text, tag_ids uuid[], tag_counts bigint[], rarest_count bigint,
               estimated_candidates bigint, items_in_scope bigint, walk_skip double precision,
               costs jsonb, stats_stale boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
SET plan_cache_mode = force_generic_plan  -- _gallery_choose's queries keep good generic plans
AS $$
    /*
    Contract: the planner's choice (_gallery_choose, not forced) for reading
    the first p_rows matches of filters already checked by
    _gallery_check_args: p_sources the sources it returned (validated,
    normalised); tags de-duplicated here. For gallery_plan (a page:
    page_size), gallery_count (an exact count: cap + 1) and related_tags
    (sample): each reads the way the strategy would read a page of p_rows.
    The sources as _gallery_choose takes them: the partitions in scope, and
    whether the scope is only the viewer's own items.
    Cost: _gallery_choose's (one stats probe per tag).
    */
    SELECT *
      FROM _gallery_choose(ARRAY(SELECT DISTINCT t FROM unnest(p_tags) AS t), p_match,
                           ARRAY(SELECT DISTINCT CASE WHEN s LIKE '%-regular' THEN 'items'
                                                      ELSE 'auto' END
                                   FROM unnest(p_sources) AS s),
                           NOT p_sources && '{community-regular,community-auto}'::text[],
                           p_rows, NULL);
$$;

COMMENT ON FUNCTION gallery._gallery_choose_for(uuid[], text, text[], integer) IS
    'Internal: the planner''s choice for reading the first rows of checked filters';
