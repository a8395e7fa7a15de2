CREATE OR REPLACE FUNCTION gallery.popular_tags(
    max_tags  integer DEFAULT 20,
    source    text    DEFAULT NULL,
    min_count bigint  DEFAULT NULL,
    max_count bigint  DEFAULT NULL)
RETURNS TABLE (tag_id uuid, name text, item_count bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    /*
    Contract: the most used tags, most items first (then by name), with how
    many items carry them: in one source ('items' or 'auto') or both (NULL),
    optionally only those with min_count..max_count items. Counts come from
    tag_cardinality_stats (as fresh as its last refresh).
    Every item carrying the tag at the last refresh is counted, other users'
    private items included: for a viewer an upper bound of what gallery_page
    shows (gallery_count counts what the viewer may see). Errors (22023): max_tags
    outside 1..1000, an unknown source, min_count > max_count.
    Cost: one pass over tag_cardinality_stats (2 rows per tag) and a top-N sort.
    */
    IF max_tags IS NULL OR max_tags NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_tags must be between 1 and 1000, got %', coalesce(max_tags::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass max_tags => 20, for example';
    END IF;
    IF source IS NOT NULL AND source NOT IN ('items', 'auto') THEN
        RAISE EXCEPTION 'source must be ''items'', ''auto'' or NULL, got %', quote_literal(source)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'NULL counts both sources';
    END IF;
    IF min_count > max_count THEN
        RAISE EXCEPTION 'min_count % is above max_count %', min_count, max_count
            USING ERRCODE = 'invalid_parameter_value', HINT = 'swap them, or leave one NULL';
    END IF;
    RETURN QUERY
    SELECT t.id, t.name::text, c.n
      FROM (SELECT s.tag_id, sum(s.cardinality)::bigint AS n
              FROM public.tag_cardinality_stats s
             WHERE popular_tags.source IS NULL OR s.content_source = popular_tags.source
             GROUP BY s.tag_id) AS c
      JOIN public.tags t ON t.id = c.tag_id
     WHERE (min_count IS NULL OR c.n >= min_count) AND (max_count IS NULL OR c.n <= max_count)
     ORDER BY c.n DESC, t.name
     LIMIT max_tags;
END
$$;

COMMENT ON FUNCTION gallery.popular_tags(integer, text, bigint, bigint) IS
    'Most used tags with their item counts, per source or both';
