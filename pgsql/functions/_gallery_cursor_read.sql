CREATE OR REPLACE FUNCTION gallery._gallery_cursor_read(  -- noqa: PD003 inlined into the statements of gallery_page and _gallery_request, whose search_path is pinned; a SET clause would stop the inlining
    p_cursor text, p_filter_hash text, p_secret text)
RETURNS TABLE (after_created_at timestamptz, after_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$  -- noqa: PD006 OFFSET 0 fences the one-row check (computed once), it pages nothing
    /*
    Contract: the position (created_at, id) a row_cursor of gallery_page
    continues after; no row for a NULL cursor. Format (made by gallery_page's
    statement):
      g2.<created_at in µs since 1970, or Infinity/-Infinity>.<id>.<filter hash>.<sig>
    sig = the first 20 hex digits of HMAC-SHA-256(payload, cursor_secret)
    (pgcrypto's hmac), payload being the text before the last dot. A cursor
    that is not one of ours (garbage, truncated, edited: bad signature),
    comes from an incompatible version (g1: the base64 cursors of earlier
    releases) or was made for other filters than p_filter_hash is refused
    by _gallery_cursor_refuse (22023, naming the cursor parameter, with a
    HINT to start from the first page). Infinite positions are PostgreSQL's
    infinite timestamps, ordered as it orders them.
    (SQL, inlined: the check costs no function call of its own.)
    Cost: one split, two pattern matches and one HMAC.
    */
    SELECT CASE WHEN c.problem IS NOT NULL
                THEN gallery._gallery_cursor_refuse(c.problem, c.parts[1])
                WHEN c.parts[2] = 'Infinity' THEN timestamptz 'infinity'
                WHEN c.parts[2] = '-Infinity' THEN timestamptz '-infinity'
                -- Integer arithmetic only (bigint * interval would go through float8 and
                -- lose microseconds past 2^53): the µs since 1970 are re-counted from
                -- PostgreSQL's own epoch (2000), which fits a bigint and an interval over
                -- the whole timestamp range, and read as an interval of that many µs.
                ELSE timestamptz '2000-01-01 00:00:00+00'
                     + (((c.parts[2]::numeric - 946684800000000)::bigint)::text
                        || ' microseconds')::interval
           END,
           CASE WHEN c.problem IS NULL THEN c.parts[3]::bigint END
      FROM (SELECT p.parts,
                   CASE WHEN p.parts[1] IS DISTINCT FROM 'g2'
                        THEN CASE WHEN p.parts[1] ~ '^g[0-9]+$' OR p_cursor LIKE 'ZzF8%'  -- base64 of 'g1|'
                                  THEN 'version' ELSE 'foreign' END
                        WHEN cardinality(p.parts) <> 5
                          OR p.parts[2] !~ '^-?([0-9]{1,19}|Infinity)$'
                          OR p.parts[3] !~ '^-?[0-9]{1,19}$'
                          OR p.parts[5] IS DISTINCT FROM
                             left(encode(public.hmac(array_to_string(p.parts[1:4], '.'), p_secret,
                                                     'sha256'), 'hex'), 20)
                        THEN 'altered'
                        WHEN p.parts[4] <> p_filter_hash THEN 'filters'
                   END AS problem
              FROM (SELECT string_to_array(p_cursor, '.') AS parts) AS p
            OFFSET 0) AS c
     WHERE p_cursor IS NOT NULL
$$;

COMMENT ON FUNCTION gallery._gallery_cursor_read(text, text, text) IS
    'Internal: position of a gallery cursor; 22023 for a foreign, altered or mismatched cursor';
