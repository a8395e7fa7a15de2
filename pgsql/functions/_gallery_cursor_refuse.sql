CREATE OR REPLACE FUNCTION gallery._gallery_cursor_refuse(p_problem text, p_version text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE  -- (STABLE: _gallery_cursor_read stays inlinable)
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    /*
    Contract: raises the error for a cursor _gallery_cursor_read refuses
    (SQLSTATE 22023 invalid_parameter_value, the message naming the cursor
    parameter, a HINT to start from the first page); never returns.
    p_problem: 'version' (an earlier release's cursor: p_version is its
    first field, g1 for the base64 ones), 'foreign' (not a gallery_page
    cursor), 'altered' (truncated or edited: bad signature), 'filters'
    (made for other tags, match, sources or viewer_id). Cost: none.
    */
    CASE p_problem
    WHEN 'version' THEN
        RAISE EXCEPTION 'cursor comes from an incompatible version (%) of gallery_page',
                        CASE WHEN p_version ~ '^g[0-9]+$' THEN p_version ELSE 'g1' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'start from the first page: call gallery_page with cursor => NULL';
    WHEN 'foreign' THEN
        RAISE EXCEPTION 'cursor is not a gallery_page cursor'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass a row_cursor value unchanged, or start from the first page with cursor => NULL';
    WHEN 'altered' THEN
        RAISE EXCEPTION 'cursor is corrupted or was altered'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass a row_cursor value unchanged, or start from the first page with cursor => NULL';
    ELSE
        RAISE EXCEPTION 'cursor was made for other filters (tags, match, sources or viewer_id)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'a cursor only continues the query that produced it: start from the first page with cursor => NULL';
    END CASE;
END
$$;

COMMENT ON FUNCTION gallery._gallery_cursor_refuse(text, text) IS
    'Internal: the 22023 error for a cursor _gallery_cursor_read refuses';
