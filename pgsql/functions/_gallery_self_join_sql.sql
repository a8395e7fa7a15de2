CREATE OR REPLACE FUNCTION gallery._gallery_self_join_sql(p_k integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Strategy self_join (match all; seed Proposal 5 A): the items of the
    first tag ($4[1], the rarest), joined once to content_tags per other tag.
    Each join is a LATERAL primary-key probe (LIMIT 1 keeps PostgreSQL from
    flattening it): PostgreSQL's own estimate for a tag it did not sample is
    the average tag's, and left free it merge-joins the rare tag's 50 links
    with a common tag's 860,000 (4.8 s at full scale instead of a few ms).
    Cost: (rarest tag's items) x (K - 1) probes at most, fewer as items drop out.
    */
    SELECT format('WITH t1 AS MATERIALIZED (SELECT content_id, content_source'
                  '  FROM public.content_tags WHERE tag_id = ($4)[1])'
                  ' SELECT t1.content_id, t1.content_source FROM t1 %s',
                  coalesce(string_agg(format(
                      'CROSS JOIN LATERAL (SELECT 1 FROM public.content_tags t%1$s'
                      ' WHERE t%1$s.content_id = t1.content_id'
                      ' AND t%1$s.content_source = t1.content_source'
                      ' AND t%1$s.tag_id = ($4)[%1$s] LIMIT 1) AS j%1$s', n), ' ' ORDER BY n), ''))
      FROM generate_series(2, p_k) AS n
$$;

COMMENT ON FUNCTION gallery._gallery_self_join_sql(integer) IS
    'Gallery strategy self_join: the rarest tag''s items joined to each other tag by probes';
