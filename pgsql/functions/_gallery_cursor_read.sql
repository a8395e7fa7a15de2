CREATE OR REPLACE FUNCTION gallery._gallery_cursor_read(  -- noqa: PD003 inlined into the statements of gallery_page and _gallery_request, whose search_path is pinned; a SET clause would stop the inlining
    p_cursor text, p_filter_hash text, p_secret text)
RETURNS TABLE (after_created_at timestamptz, after_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$  -- noqa: PD006 OFFSET 0 fences the one-row check (computed once), it pages nothing
    /*
    Contract: the position (created_at, id) a row_cursor of gallery_page
    continues after; no row for a NULL cursor. Format (made by
    gallery_page's statement):
      g3.<created_at>.<id>.<filter hash>.<sig>
    created_at as PostgreSQL stores it (µs since 2000-01-01 UTC, a signed
    64-bit integer, in 16 hex digits: 7fffffffffffffff is infinity,
    8000000000000000 -infinity), sig = the first 20 hex digits of
    HMAC-SHA-256(payload, cursor_secret) (pgcrypto's hmac), payload being
    the text before the last dot. The previous release's g2 cursors (the
    same with created_at in decimal µs since 1970, or Infinity / -Infinity)
    are still read: a page in flight across an upgrade goes on. A cursor that
    is not one of ours (garbage, truncated, edited: bad signature), comes
    from an incompatible version (g1: the base64 cursors of earlier releases)
    or was made for other filters than p_filter_hash is refused by
    _gallery_cursor_refuse (22023, naming the cursor parameter, with a HINT
    to start from the first page).
    (SQL, inlined: the check costs no function call of its own.)
    Cost: one split, two pattern matches and one HMAC.
    */
    SELECT CASE WHEN c.problem IS NOT NULL
                THEN gallery._gallery_cursor_refuse(c.problem, c.parts[1])
                WHEN c.at = 9223372036854775807 THEN timestamptz 'infinity'
                WHEN c.at = -9223372036854775808 THEN timestamptz '-infinity'
                -- Integer arithmetic only (bigint * interval would go through float8 and
                -- lose microseconds past 2^53): the µs since 2000 read as an interval.
                ELSE timestamptz '2000-01-01 00:00:00+00' + (c.at::text || ' microseconds')::interval
           END,
           CASE WHEN c.problem IS NULL THEN c.parts[3]::bigint END
      FROM (SELECT p.parts, v.problem,
                   -- the µs since 2000 (no value for a cursor refused)
                   CASE WHEN v.problem IS NOT NULL THEN NULL
                        WHEN p.parts[1] = 'g3' THEN ('x' || p.parts[2])::bit(64)::bigint
                        WHEN p.parts[2] = 'Infinity' THEN 9223372036854775807
                        WHEN p.parts[2] = '-Infinity' THEN -9223372036854775808
                        ELSE (p.parts[2]::numeric - 946684800000000)::bigint
                   END AS at
              FROM (SELECT string_to_array(p_cursor, '.') AS parts OFFSET 0) AS p
             CROSS JOIN LATERAL (
                   SELECT CASE WHEN p.parts[1] IS NULL OR p.parts[1] NOT IN ('g3', 'g2')
                               THEN CASE WHEN p.parts[1] ~ '^g[0-9]+$' OR p_cursor LIKE 'ZzF8%'  -- base64 of 'g1|'
                                         THEN 'version' ELSE 'foreign' END
                               WHEN cardinality(p.parts) <> 5
                                 OR p.parts[2] !~ CASE p.parts[1] WHEN 'g3' THEN '^[0-9a-f]{16}$'
                                                  ELSE '^-?([0-9]{1,19}|Infinity)$' END
                                 OR p.parts[3] !~ '^-?[0-9]{1,19}$'
                                 OR p.parts[5] IS DISTINCT FROM
                                    left(encode(gallery._gallery_hmac_sha256(array_to_string(p.parts[1:4], '.'),
                                                                              p_secret), 'hex'), 20)
                               THEN 'altered'
                               WHEN p.parts[4] <> p_filter_hash THEN 'filters'
                          END AS problem
                   OFFSET 0) AS v
            OFFSET 0) AS c
     WHERE p_cursor IS NOT NULL
$$;

COMMENT ON FUNCTION gallery._gallery_cursor_read(text, text, text) IS
    'Internal: position of a gallery cursor; 22023 for a foreign, altered or mismatched cursor';
