CREATE OR REPLACE FUNCTION gallery._gallery_tag_nos(p_tags uuid[], p_match text)
RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
SET plan_cache_mode = force_generic_plan  -- primary-key probes whatever the tags: planned once, not every call
AS $$
BEGIN
    /*
    Contract: the numbers (tags.tag_no, sorted) of the tags p_tags names, to
    test against content_items_all.tag_nos. Under match 'all', NULL when one
    of the tags does not exist: nothing can match. Under 'any', the numbers of
    the tags that exist ('{}' when none does: nothing matches either). '{}'
    for no tags. Duplicates count once. (PL/pgSQL, not SQL: its plan is
    cached for the session.)
    Cost: one tags primary-key probe per tag. The plan does not depend on
    the values: a generic plan (a custom one was re-planned on every call,
    ~60 µs, more than the probes).
    */
    RETURN (SELECT CASE WHEN p_match = 'all'
                             AND count(*) < (SELECT count(DISTINCT u) FROM unnest(p_tags) AS u)
                        THEN NULL
                        ELSE coalesce(array_agg(t.tag_no ORDER BY t.tag_no), '{}') END
              FROM public.tags t
             WHERE t.id = ANY (p_tags));
END
$$;

COMMENT ON FUNCTION gallery._gallery_tag_nos(uuid[], text) IS
    'Internal: the numbers of a filter''s tags in tag_nos (NULL: under all, a tag does not exist)';
