CREATE OR REPLACE FUNCTION gallery._gallery_request_row(  -- noqa: PD003 inlined into _gallery_request's statements and gallery_page's, whose search_path is pinned; a SET clause would stop the inlining
    -- the plan (a gallery_plan_memo entry's columns, kept or new)
    p_tags uuid[], p_tag_nos integer[], p_sources text[], p_types text[], p_own text[],
    p_others text[], p_filter_key text, p_strategy text, p_rarest_count bigint,
    p_estimated_candidates bigint, p_costs jsonb,
    -- gallery_config's
    p_cursor_secret text, p_telemetry_sample_rate double precision, p_max_work_mem_mb integer,
    p_cache_enabled boolean,
    -- the call's
    p_cursor text, p_direction text, p_viewer_id bigint, p_forced boolean)
RETURNS TABLE (tags uuid[], tag_nos integer[], sources text[], types text[], own text[],
               others text[], filter_hash text, after_created_at timestamptz, after_id bigint,
               has_cursor boolean, forward boolean, strategy text, forced boolean, k integer,
               rarest_count bigint, estimated_candidates bigint, costs jsonb,
               cursor_secret text, telemetry_sample_rate double precision,
               max_work_mem_mb integer, cache_enabled boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$  -- noqa: PD006 OFFSET 0 fences the one-row hash (computed once), it pages nothing
    /*
    Contract: _gallery_request's row, from a plan (the checked, normalised
    and planned filters: a plan memo entry's columns, kept or new),
    gallery_config's and the arguments a plan does not depend on (direction
    already checked): the hash of the filters that cursors carry (the plan's
    filter_key and the viewer), the cursor's position (_gallery_cursor_read:
    22023 for a foreign, altered or mismatched cursor), or without a cursor
    the sentinel that starts a first page (see _gallery_order_first).
    Cost: one sha256, and the cursor's HMAC when there is a cursor.
    */
    SELECT p_tags, p_tag_nos, p_sources, p_types, p_own, p_others, h.filter_hash,
           CASE WHEN p_cursor IS NOT NULL THEN c.after_created_at
                WHEN p_direction = 'next' THEN timestamptz 'infinity'
                ELSE timestamptz '-infinity' END,
           CASE WHEN p_cursor IS NOT NULL THEN c.after_id
                WHEN p_direction = 'next' THEN 9223372036854775807
                ELSE -9223372036854775808 END,
           p_cursor IS NOT NULL, p_direction = 'next', p_strategy, p_forced, cardinality(p_tags),
           p_rarest_count, p_estimated_candidates, p_costs, p_cursor_secret,
           p_telemetry_sample_rate, p_max_work_mem_mb, p_cache_enabled
      -- (fenced: the hash is computed once, for the cursor check and the output)
      FROM (SELECT left(encode(sha256(convert_to(concat_ws('|', p_filter_key, p_viewer_id),
                                                 'UTF8')), 'hex'), 16) AS filter_hash
            OFFSET 0) AS h
      LEFT JOIN LATERAL gallery._gallery_cursor_read(p_cursor, h.filter_hash, p_cursor_secret)
           AS c ON true  -- (no cursor: no row)
$$;

COMMENT ON FUNCTION gallery._gallery_request_row(uuid[], integer[], text[], text[], text[], text[], text, text, bigint, bigint, jsonb, text, double precision, integer, boolean, text, text, bigint, boolean) IS
    'Internal: gallery_page''s checked request, from a plan, gallery_config and the cursor';
