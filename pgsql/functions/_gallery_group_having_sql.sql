CREATE OR REPLACE FUNCTION gallery._gallery_group_having_sql()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Strategy group_having (match all; seed Proposal 5 B): the links of all K
    tags ($4), grouped by item, keeping the items with K of them
    (content_tags has one row per item and tag, so count(*) counts tags).
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
    tests/golden/strategies/group_having-*.sql.
    Cost: the K tags' item counts added up, in links read and grouped.
    */
    SELECT 'SELECT content_id, content_source FROM public.content_tags WHERE tag_id = ANY ($4)'
           ' GROUP BY 1, 2 HAVING count(*) = cardinality($4)'
$$;

COMMENT ON FUNCTION gallery._gallery_group_having_sql() IS
    'Gallery strategy group_having: links of all tags grouped by item';
