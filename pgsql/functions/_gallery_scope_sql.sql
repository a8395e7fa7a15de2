CREATE OR REPLACE FUNCTION gallery._gallery_scope_sql(p_sources text[])
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_items text;
    v_auto text;
BEGIN
    /*
    Contract: the WHERE predicate, on alias i of content_items_all, that keeps
    exactly the items the given (validated, normalised) sources may show, with
    the viewer id as $1:
      user-regular      source 'items', creator = viewer (private ones too)
      user-auto         source 'auto',  creator = viewer (private ones too)
      community-regular source 'items', creator <> viewer (or no viewer), not private
      community-auto    source 'auto',  same
    The text is built from constants only; values stay parameters. A source
    type the sources leave out is not named at all, so PostgreSQL prunes its
    partition. The same rule as _gallery_in_scope, which the strategies of
    gallery_page inline with the scope as parameters: change both together.
    Cost: none (no table access).
    */
    SELECT max(b.cond) FILTER (WHERE b.src = 'items'), max(b.cond) FILTER (WHERE b.src = 'auto')
      INTO v_items, v_auto
      FROM (SELECT v.src,
                   CASE WHEN v.own = ANY (p_sources) AND v.others = ANY (p_sources)
                            THEN '(i.creator_id = $1 OR NOT i.is_private)'
                        WHEN v.own = ANY (p_sources) THEN 'i.creator_id = $1'
                        WHEN v.others = ANY (p_sources)
                            THEN '(i.creator_id IS DISTINCT FROM $1 AND NOT i.is_private)'
                   END AS cond
              FROM (VALUES ('items', 'user-regular', 'community-regular'),
                           ('auto', 'user-auto', 'community-auto')) AS v(src, own, others)) AS b;
    IF v_items = v_auto THEN
        RETURN v_items;
    ELSIF v_auto IS NULL THEN
        RETURN format('i.source_type = %L AND %s', 'items', v_items);
    ELSIF v_items IS NULL THEN
        RETURN format('i.source_type = %L AND %s', 'auto', v_auto);
    END IF;
    RETURN format('((i.source_type = %L AND %s) OR (i.source_type = %L AND %s))',
                  'items', v_items, 'auto', v_auto);
END
$$;

COMMENT ON FUNCTION gallery._gallery_scope_sql(text[]) IS
    'Internal: SQL predicate for the gallery sources (viewer id as $1)';
