CREATE OR REPLACE FUNCTION gallery.tag_search(prefix text, max_tags integer DEFAULT 10)
RETURNS TABLE (tag_id uuid, name text, item_count bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
SET plan_cache_mode = force_custom_plan  -- LIKE uses the index only with the prefix known
AS $$
#variable_conflict use_column
BEGIN
    /*
    Contract: tags whose name starts with prefix (case-insensitive; % and _
    are plain characters), most used first, then by name, with their item
    counts (tag_cardinality_stats).
    Every item carrying the tag at the last refresh is counted, other users'
    private items included: for a viewer an upper bound of what gallery_page
    shows (gallery_count counts what the viewer may see). Errors (22023): prefix NULL or empty,
    max_tags outside 1..100.
    Cost: a range scan of tags_lower_name_prefix_idx over the matching names
    and a top-N sort of them: milliseconds on 20,000 tags even for one letter.
    */
    IF prefix IS NULL OR prefix = '' THEN
        RAISE EXCEPTION 'prefix must not be empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'popular_tags() lists tags without a prefix';
    END IF;
    IF max_tags IS NULL OR max_tags NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_tags must be between 1 and 100, got %', coalesce(max_tags::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass max_tags => 10, for example';
    END IF;
    RETURN QUERY
    SELECT t.id, t.name::text, coalesce(sum(s.cardinality), 0)::bigint AS n
      FROM public.tags t
      LEFT JOIN public.tag_cardinality_stats s ON s.tag_id = t.id
     WHERE lower(t.name) LIKE replace(replace(replace(lower(prefix), '\', '\\'), '%', '\%'), '_', '\_') || '%'
     GROUP BY t.id, t.name
     ORDER BY n DESC, t.name
     LIMIT max_tags;
END
$$;

COMMENT ON FUNCTION gallery.tag_search(text, integer) IS 'Tags by case-insensitive name prefix, most used first';
