CREATE OR REPLACE FUNCTION _gallery_tag_union(
    p_tags uuid[], p_sources text[], p_viewer_id bigint,
    p_after_created_at timestamptz, p_after_id bigint, p_forward boolean, p_limit integer)
RETURNS TABLE (item_id bigint, item_source text, item_created_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = public, pg_temp
AS $$
    /*
    Strategy tag_union (match any): the items carrying any of the tags, read
    tag-first from content_tags_tag_source_content_idx.
    Cost: the sum of the K tags' item counts in links read, plus one item
    lookup per distinct item: for rare tags; order_first wins for common ones.
    */
    SELECT * FROM _gallery_page_keys(
        'SELECT content_id, content_source FROM content_tags WHERE tag_id = ANY ($4)',
        p_tags, p_sources, p_viewer_id, p_after_created_at, p_after_id, p_forward, p_limit)
$$;

COMMENT ON FUNCTION _gallery_tag_union(uuid[], text[], bigint, timestamptz, bigint, boolean, integer) IS
    'Gallery strategy tag_union (match any): items of any tag, tag-first';
