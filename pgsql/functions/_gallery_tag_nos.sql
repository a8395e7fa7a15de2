CREATE OR REPLACE FUNCTION gallery._gallery_tag_nos(p_tags uuid[], p_match text)
RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_nos integer[];
    v_found integer;
BEGIN
    /*
    Contract: the numbers (tags.tag_no, sorted) of the tags p_tags names, to
    test against content_items_all.tag_nos. Under match 'all', NULL when one
    of the tags does not exist: nothing can match. Under 'any', the numbers of
    the tags that exist ('{}' when none does: nothing matches either). '{}'
    for no tags. Duplicates count once. (PL/pgSQL, not SQL: its plan is
    cached for the session.)
    Cost: one tags primary-key probe per tag.
    */
    SELECT coalesce(array_agg(t.tag_no ORDER BY t.tag_no), '{}'), count(*)
      INTO v_nos, v_found
      FROM public.tags t
     WHERE t.id = ANY (p_tags);
    IF p_match = 'all'
       AND v_found < (SELECT count(DISTINCT u) FROM unnest(p_tags) AS u) THEN
        RETURN NULL;
    END IF;
    RETURN v_nos;
END
$$;

COMMENT ON FUNCTION gallery._gallery_tag_nos(uuid[], text) IS
    'Internal: the numbers of a filter''s tags in tag_nos (NULL: under all, a tag does not exist)';
