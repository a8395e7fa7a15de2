CREATE OR REPLACE FUNCTION gallery._gallery_tag_union_sql()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Strategy tag_union (match any): the items carrying any of the tags ($4),
    read tag-first from content_tags_tag_source_content_idx, each item once.
    Cost: the K tags' item counts added up, in links read: for rare tags;
    order_first wins for common ones.
    */
    SELECT 'SELECT DISTINCT content_id, content_source FROM public.content_tags WHERE tag_id = ANY ($4)'
$$;

COMMENT ON FUNCTION gallery._gallery_tag_union_sql() IS
    'Gallery strategy tag_union (match any): items of any tag, tag-first';
