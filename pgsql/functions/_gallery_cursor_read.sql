CREATE OR REPLACE FUNCTION gallery._gallery_cursor_read(
    p_cursor text, p_filter_hash text, p_secret text,
    OUT after_created_at timestamptz, OUT after_id bigint)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_parts text[] := string_to_array(p_cursor, '.');
BEGIN
    /*
    Contract: the position (created_at, id) a row_cursor of gallery_page
    continues after. Format (made in gallery_page):
      g2.<created_at in µs since 1970, or Infinity/-Infinity>.<id>.<filter hash>.<sig>
    sig = the first 20 hex digits of HMAC-SHA-256(payload, cursor_secret)
    (pgcrypto's hmac), payload being the text before the last dot. Raises
    invalid_parameter_value (22023), naming the cursor parameter, with a HINT
    to start from the first page, when the cursor is not one of ours
    (garbage, truncated, edited: bad signature), comes from an incompatible
    version (g1: the base64 cursors of earlier releases), or was made for
    other filters than p_filter_hash. Infinite positions are PostgreSQL's
    infinite timestamps, ordered as it orders them.
    Cost: one split and one HMAC.
    */
    IF v_parts[1] IS DISTINCT FROM 'g2' THEN
        IF v_parts[1] ~ '^g[0-9]+$' OR p_cursor LIKE 'ZzF8%' THEN  -- base64 of 'g1|'
            RAISE EXCEPTION 'cursor comes from an incompatible version (%) of gallery_page',
                            CASE WHEN p_cursor LIKE 'ZzF8%' THEN 'g1' ELSE v_parts[1] END
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'start from the first page: call gallery_page with cursor => NULL';
        END IF;
        RAISE EXCEPTION 'cursor is not a gallery_page cursor'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass a row_cursor value unchanged, or start from the first page with cursor => NULL';
    END IF;
    IF cardinality(v_parts) <> 5
       OR v_parts[2] !~ '^-?([0-9]{1,19}|Infinity)$' OR v_parts[3] !~ '^-?[0-9]{1,19}$'
       OR v_parts[5] IS DISTINCT FROM left(encode(public.hmac(array_to_string(v_parts[1:4], '.'),
                                                              p_secret, 'sha256'), 'hex'), 20)
    THEN
        RAISE EXCEPTION 'cursor is corrupted or was altered'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass a row_cursor value unchanged, or start from the first page with cursor => NULL';
    END IF;
    IF v_parts[4] <> p_filter_hash THEN
        RAISE EXCEPTION 'cursor was made for other filters (tags, match, sources or viewer_id)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'a cursor only continues the query that produced it: start from the first page with cursor => NULL';
    END IF;
    -- Integer arithmetic only (bigint * interval would go through float8 and lose
    -- microseconds past 2^53): the µs since 1970 are re-counted from PostgreSQL's
    -- own epoch (2000), which fits a bigint and an interval over the whole
    -- timestamp range, and read as an interval of that many microseconds.
    after_created_at := CASE v_parts[2]
        WHEN 'Infinity' THEN timestamptz 'infinity'
        WHEN '-Infinity' THEN timestamptz '-infinity'
        ELSE timestamptz '2000-01-01 00:00:00+00'
             + (((v_parts[2]::numeric - 946684800000000)::bigint)::text || ' microseconds')::interval
        END;
    after_id := v_parts[3]::bigint;
END
$$;

COMMENT ON FUNCTION gallery._gallery_cursor_read(text, text, text) IS
    'Internal: position of a gallery cursor; 22023 for a foreign, altered or mismatched cursor';
