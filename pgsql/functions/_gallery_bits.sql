CREATE OR REPLACE FUNCTION gallery._gallery_bits(p_positions integer[], p_length integer)
RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Contract: a bit string of p_length bits with bit i (0-based, leftmost
    first) set for each i in p_positions and no other; positions outside
    0..p_length-1 and duplicates are ignored. For the count sample
    (_gallery_stats_sample, count_sample_bits).
    Cost: one sort of the positions and p_length characters built with
    repeat(), in C: ~1 ms for 20,000 bits.
    */
    SELECT (coalesce(string_agg(repeat('0', u.p - u.prev - 1) || '1', '' ORDER BY u.p), '')
            || repeat('0', p_length - coalesce(max(u.p), -1) - 1))::varbit
      FROM (SELECT d.p, lag(d.p, 1, -1) OVER (ORDER BY d.p) AS prev
              FROM (SELECT DISTINCT x AS p FROM unnest(p_positions) AS x
                     WHERE x BETWEEN 0 AND p_length - 1) AS d) AS u
$$;

COMMENT ON FUNCTION gallery._gallery_bits(integer[], integer) IS
    'Internal: a bit string with the given positions set (the count sample)';
