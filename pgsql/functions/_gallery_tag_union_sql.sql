CREATE OR REPLACE FUNCTION gallery._gallery_tag_union_sql()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Strategy tag_union (match any): the items carrying any of the tags ($4),
    read tag-first from content_tags_tag_source_content_idx, each item once.
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
    Every final text (each match, scope, direction, cursor), pretty-printed:
    tests/golden/strategies/tag_union-*.sql.
    Cost: the K tags' item counts added up, in links read: for rare tags;
    order_first wins for common ones.
    */
    SELECT 'SELECT DISTINCT content_id, content_source FROM public.content_tags WHERE tag_id = ANY ($4)'
$$;

COMMENT ON FUNCTION gallery._gallery_tag_union_sql() IS
    'Gallery strategy tag_union (match any): items of any tag, tag-first';
