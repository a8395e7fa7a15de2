CREATE OR REPLACE FUNCTION gallery._gallery_plan_key(  -- noqa: PD003 inlined into _gallery_request's statements, whose search_path is pinned; a SET clause would stop the inlining
    p_tags uuid[], p_match text, p_sources text[], p_viewer_id bigint, p_page_size integer,
    p_strategy text, p_max_tags integer)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    /*
    Contract: the plan memo's key (gallery_plan_memo.key) for gallery_page's
    arguments as given: sha256 of tags, match, sources, whether viewer_id is
    NULL, page_size and the forced strategy; NULL when there are more tags
    than p_max_tags (gallery_config.max_tags: refused by the checks, never
    formatted). Cost: one format() and one sha256 over the arguments' text.
    */
    SELECT CASE WHEN coalesce(cardinality(p_tags), 0) <= p_max_tags THEN
               sha256(convert_to(format('plan-v1 %L %L %L %L %L %L', p_tags, p_match, p_sources,
                                        p_viewer_id IS NULL, p_page_size, p_strategy),
                                 'UTF8'))
           END
$$;

COMMENT ON FUNCTION gallery._gallery_plan_key(uuid[], text, text[], bigint, integer, text, integer) IS
    'Internal: the plan memo''s key for gallery_page''s arguments as given';
