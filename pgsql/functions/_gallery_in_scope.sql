CREATE OR REPLACE FUNCTION gallery._gallery_in_scope(  -- noqa: PD003 inlined into the strategies' queries, which gallery_page runs with its search_path pinned; a SET clause would stop the inlining
    p_source_type text, p_creator_id bigint, p_is_private boolean,
    p_own text[], p_others text[], p_viewer_id bigint)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    /*
    Contract: whether an item (its source_type, creator_id, is_private) is
    one the sources let the viewer see: in p_own, the source types
    ('items', 'auto') whose viewer's own items are in scope (user-regular,
    user-auto), private ones too; in p_others, those whose other creators'
    public items are (community-regular, community-auto). Anonymous
    (p_viewer_id NULL): p_own is empty. The one definition of a scope the
    strategies share; callers also test source_type = ANY (p_own || p_others)
    themselves, which lets PostgreSQL skip a partition. _gallery_scope_sql
    states the same rule as text for the dynamic SQL of gallery_count and
    related_tags (constants there let PostgreSQL prune at plan time and use
    the creator index): change both together; the oracle tests of pages and
    counts compare each with the same brute-force scope.
    Cost: none (an expression, inlined).
    */
    SELECT (p_source_type = ANY (p_own) AND p_creator_id = p_viewer_id)
        OR (p_source_type = ANY (p_others) AND NOT p_is_private
            AND p_creator_id IS DISTINCT FROM p_viewer_id)
$$;

COMMENT ON FUNCTION gallery._gallery_in_scope(text, bigint, boolean, text[], text[], bigint) IS
    'Internal: whether an item is in the sources a viewer asked for';
