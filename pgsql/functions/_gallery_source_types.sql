CREATE OR REPLACE FUNCTION gallery._gallery_source_types(p_sources text[], p_side text)  -- noqa: PD003 inlined into its callers' expressions (_gallery_request, gallery_count), whose search_path is pinned; a SET clause would stop the inlining and make each use a call
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    /*
    Contract: the source types ('auto', 'items', in that order) of the sources
    (validated, normalised) on one side: p_side 'user' (user-auto,
    user-regular: the viewer's own items) or 'community' (community-auto,
    community-regular: other creators' public items).
    Cost: none (an expression, inlined).
    */
    SELECT array_remove(ARRAY[CASE WHEN p_side || '-auto' = ANY (p_sources) THEN 'auto' END,
                              CASE WHEN p_side || '-regular' = ANY (p_sources) THEN 'items' END],
                        NULL)
$$;

COMMENT ON FUNCTION gallery._gallery_source_types(text[], text) IS
    'Internal: the source types of the user-* or the community-* sources given';
