CREATE OR REPLACE FUNCTION gallery._gallery_group_having_sql()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Strategy group_having (match all; seed Proposal 5 B): the links of all K
    tags ($4), grouped by item, keeping the items with K of them
    (content_tags has one row per item and tag, so count(*) counts tags).
    Cost: the K tags' item counts added up, in links read and grouped.
    */
    SELECT 'SELECT content_id, content_source FROM public.content_tags WHERE tag_id = ANY ($4)'
           ' GROUP BY 1, 2 HAVING count(*) = cardinality($4)'
$$;

COMMENT ON FUNCTION gallery._gallery_group_having_sql() IS
    'Gallery strategy group_having: links of all tags grouped by item';
