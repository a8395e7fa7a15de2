CREATE OR REPLACE FUNCTION _gallery_self_join(
    p_tags uuid[], p_sources text[], p_viewer_id bigint,
    p_after_created_at timestamptz, p_after_id bigint, p_forward boolean, p_limit integer)
RETURNS TABLE (item_id bigint, item_source text, item_created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    /*
    Strategy self_join (match all; seed Proposal 5 A): one join of content_tags
    per tag, p_tags rarest first, so the rarest tag's items drive the joins
    and each other tag is one primary-key probe per surviving item.
    Cost: about (rarest tag's items in scope) x (K - 1) probes, plus one item
    lookup per match; planning grows with K (K joins): for small K.
    */
    SELECT * FROM _gallery_page_keys(
        (SELECT format('SELECT t1.content_id, t1.content_source FROM content_tags t1 %s'
                       ' WHERE t1.tag_id = ($4)[1]',
                       coalesce(string_agg(format(
                           'JOIN content_tags t%1$s ON t%1$s.content_id = t1.content_id'
                           ' AND t%1$s.content_source = t1.content_source'
                           ' AND t%1$s.tag_id = ($4)[%1$s]', n), ' ' ORDER BY n), ''))
           FROM generate_series(2, cardinality(p_tags)) AS n),
        p_tags, p_sources, p_viewer_id, p_after_created_at, p_after_id, p_forward, p_limit)
$$;

COMMENT ON FUNCTION _gallery_self_join(uuid[], text[], bigint, timestamptz, bigint, boolean, integer) IS
    'Gallery strategy self_join: K-way join of content_tags, rarest tag first';
