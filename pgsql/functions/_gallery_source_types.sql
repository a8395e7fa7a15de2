CREATE OR REPLACE FUNCTION gallery._gallery_source_types(p_sources text[], p_side text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Contract: the source types ('auto', 'items', in that order) of the sources
    (validated, normalised) on one side: p_side 'user' (user-auto,
    user-regular: the viewer's own items) or 'community' (community-auto,
    community-regular: other creators' public items).
    Cost: none (an expression).
    */
    SELECT array_remove(ARRAY[CASE WHEN p_side || '-auto' = ANY (p_sources) THEN 'auto' END,
                              CASE WHEN p_side || '-regular' = ANY (p_sources) THEN 'items' END],
                        NULL)
$$;

COMMENT ON FUNCTION gallery._gallery_source_types(text[], text) IS
    'Internal: the source types of the user-* or the community-* sources given';
