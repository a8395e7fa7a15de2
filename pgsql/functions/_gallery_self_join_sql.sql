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
    The whole query: _gallery_tag_first_page_sql wraps this list of items
    (content_id, content_source) as
      WITH m AS MATERIALIZED (<this list>)
      SELECT i.item_id, i.item_source, i.item_created_at
        FROM m CROSS JOIN LATERAL (
             SELECT i.id, i.source_type, i.created_at FROM public.content_items_all i
              WHERE i.id = m.content_id AND i.source_type = m.content_source
                AND <scope: sources, viewer $1> AND <keyset: past the cursor $2, $3>
              LIMIT 1) AS i
       ORDER BY i.item_created_at DESC, i.item_id DESC   -- prev: ASC, ASC
       LIMIT $5
    Every final text (each match, scope, direction, cursor, K = 1, 2, 3), pretty-printed:
    tests/golden/strategies/self_join-*.sql.
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
