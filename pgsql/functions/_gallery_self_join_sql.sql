CREATE OR REPLACE FUNCTION _gallery_self_join_sql(p_k integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    /*
    Strategy self_join (match all; seed Proposal 5 A): the items of the
    first tag ($4[1], the rarest), joined once to content_tags per other tag.
    Each join is a primary-key probe per surviving item.
    Cost: about (rarest tag's items) x (K - 1) probes; planning time grows
    quickly with K (K-way join), which is why the planner keeps it to small K.
    */
    SELECT format('SELECT t1.content_id, t1.content_source FROM content_tags t1 %s'
                  ' WHERE t1.tag_id = ($4)[1]',
                  coalesce(string_agg(format(
                      'JOIN content_tags t%1$s ON t%1$s.content_id = t1.content_id'
                      ' AND t%1$s.content_source = t1.content_source'
                      ' AND t%1$s.tag_id = ($4)[%1$s]', n), ' ' ORDER BY n), ''))
      FROM generate_series(2, p_k) AS n
$$;

COMMENT ON FUNCTION _gallery_self_join_sql(integer) IS
    'Gallery strategy self_join: K-way join of content_tags, rarest tag first';
