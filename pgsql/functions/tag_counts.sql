CREATE OR REPLACE FUNCTION gallery.tag_counts(tag_ids uuid[])
RETURNS TABLE (tag_id uuid, name text, items bigint, auto_items bigint, total bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    /*
    Contract: for each given tag that exists (in the order given, duplicates
    once), how many items of each source carry it and in all, from
    tag_cardinality_stats (0 when it has no row yet).
    Every item carrying the tag at the last refresh is counted, other users'
    private items included: for a viewer an upper bound of what gallery_page
    shows (gallery_count counts what the viewer may see). Unknown ids are left
    out. Errors (22023): tag_ids NULL or with a NULL element.
    Cost: two primary-key probes per tag.
    */
    IF tag_ids IS NULL OR array_position(tag_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'tag_ids must be an array of tag ids without NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass ARRAY[...]::uuid[]';
    END IF;
    RETURN QUERY
    SELECT t.id, t.name::text,
           coalesce(si.cardinality, 0), coalesce(sa.cardinality, 0),
           coalesce(si.cardinality, 0) + coalesce(sa.cardinality, 0)
      FROM (SELECT u.id, min(u.n) AS n FROM unnest(tag_ids) WITH ORDINALITY AS u(id, n)
             GROUP BY u.id) AS g
      JOIN public.tags t ON t.id = g.id
      LEFT JOIN public.tag_cardinality_stats si ON si.tag_id = t.id AND si.content_source = 'items'
      LEFT JOIN public.tag_cardinality_stats sa ON sa.tag_id = t.id AND sa.content_source = 'auto'
     ORDER BY g.n;
END
$$;

COMMENT ON FUNCTION gallery.tag_counts(uuid[]) IS 'Item counts of the given tags, per source and in all';
