CREATE OR REPLACE FUNCTION gallery._gallery_request_kept(  -- noqa: PD003 inlined into _gallery_request's statement and gallery_page's, whose search_path is pinned; a SET clause would stop the inlining
    p_tags uuid[], p_cursor text, p_page_size integer, p_match text, p_sources text[],
    p_viewer_id bigint, p_direction text, p_strategy text)
RETURNS TABLE (tags uuid[], tag_nos integer[], sources text[], types text[], own text[],
               others text[], filter_hash text, after_created_at timestamptz, after_id bigint,
               has_cursor boolean, forward boolean, strategy text, forced boolean, k integer,
               rarest_count bigint, estimated_candidates bigint, costs jsonb,
               cursor_secret text, telemetry_sample_rate double precision,
               max_work_mem_mb integer, cache_enabled boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    /*
    Contract: _gallery_request's row for arguments planned before, in one
    statement: the plan memo's newest entry for the arguments' key
    (_gallery_plan_key), when it is still valid (gallery_config's row version
    and the plan generation those it was planned with, not expired), made
    into the request by _gallery_request_row. No row otherwise, and none for
    what _gallery_request must refuse whatever the memo holds (a direction
    other than next / prev, prev without a cursor) or may not use (a
    read-only transaction: a hot standby has no unlogged tables): the caller
    then calls _gallery_request. The arguments of a kept plan passed the
    checks when it was planned (the key holds all those they depend on).
    Cost: gallery_config's row, the generation, one index probe of the memo
    (key, fill), the cursor's HMAC when there is one.
    */
    SELECT r.*
      FROM public.gallery_config c
     CROSS JOIN public.gallery_plan_generation g
     CROSS JOIN LATERAL (SELECT e FROM public.gallery_plan_memo e
                          WHERE e.key = gallery._gallery_plan_key(p_tags, p_match, p_sources,
                                                                  p_viewer_id, p_page_size,
                                                                  p_strategy, c.max_tags)
                          ORDER BY e.fill DESC
                          LIMIT 1) AS m
     CROSS JOIN LATERAL gallery._gallery_request_row(
               (m.e).tags, (m.e).tag_nos, (m.e).sources, (m.e).types, (m.e).own, (m.e).others,
               (m.e).filter_key, (m.e).strategy, (m.e).rarest_count, (m.e).estimated_candidates,
               (m.e).costs, c.cursor_secret, c.telemetry_sample_rate, c.max_work_mem_mb,
               c.cache_enabled, p_cursor, p_direction, p_viewer_id, p_strategy IS NOT NULL) AS r
     WHERE (m.e).config = c.xmin
       AND (m.e).generation = CASE WHEN g.is_called THEN g.last_value ELSE 0 END
       AND (m.e).expires_at > now()
       AND p_direction IN ('next', 'prev') AND (p_direction = 'next' OR p_cursor IS NOT NULL)
       AND NOT current_setting('transaction_read_only')::boolean
$$;

COMMENT ON FUNCTION gallery._gallery_request_kept(uuid[], text, integer, text, text[], bigint, text, text) IS
    'Internal: gallery_page''s checked and planned request from the plan memo, or no row';
