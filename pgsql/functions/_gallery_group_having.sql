CREATE OR REPLACE FUNCTION _gallery_group_having(
    p_tags uuid[], p_sources text[], p_viewer_id bigint,
    p_after_created_at timestamptz, p_after_id bigint, p_forward boolean, p_limit integer)
RETURNS TABLE (item_id bigint, item_source text, item_created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    /*
    Strategy group_having (match all; seed Proposal 5 B): read the links of
    all K tags, group them by item, keep the items with K of them.
    (content_tags has one row per item and tag, so count(*) counts tags.)
    Cost: the sum of the K tags' item counts in links read and grouped, plus
    one item lookup per match: for tags that are all fairly rare.
    */
    SELECT * FROM _gallery_page_keys(
        'SELECT content_id, content_source FROM content_tags WHERE tag_id = ANY ($4)'
        ' GROUP BY 1, 2 HAVING count(*) = cardinality($4)',
        p_tags, p_sources, p_viewer_id, p_after_created_at, p_after_id, p_forward, p_limit)
$$;

COMMENT ON FUNCTION _gallery_group_having(uuid[], text[], bigint, timestamptz, bigint, boolean, integer) IS
    'Gallery strategy group_having: links of all tags grouped by item';
