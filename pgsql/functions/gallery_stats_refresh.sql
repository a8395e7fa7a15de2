CREATE OR REPLACE FUNCTION gallery.gallery_stats_refresh()
RETURNS TABLE (refreshed boolean, tag_rows integer, links bigint, seconds double precision)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- the admin role (and its pg_cron job) refresh without writing
                  -- tag_cardinality_stats themselves
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_started timestamptz := clock_timestamp();
    v_tag_rows integer;
    v_links bigint;
BEGIN
    /*
    Contract: recompute tag_cardinality_stats from content_tags: for every tag
    and source ('items', 'auto'), the number of items carrying it (0 included,
    so the planner knows an empty tag from an unknown one), updated_at now;
    then the sampled statistics (_gallery_stats_sample): where in time each
    tag's newest items are, and how often frequent tags meet.
    Runs in the caller's transaction: readers see the old counts or the new
    ones, never an empty or half-written table. A second refresh while one
    runs returns at once (refreshed = false, with a NOTICE) instead of
    queueing: the transaction-level advisory lock is only tried.
    On a standby (read only) it does nothing.
    On a database without tags: refreshed = true, tag_rows = 0, links = 0.
    Cost: one pass over content_tags (a parallel sequential scan, or an
    index-only scan of content_tags_tag_created_idx, as PostgreSQL prefers),
    hashed by tag and source; one
    upsert per tag and source; then _gallery_stats_sample's pass.
    */
    IF pg_is_in_recovery() THEN
        RAISE NOTICE 'gallery_stats_refresh: read-only standby, nothing done';
        RETURN QUERY SELECT false, 0, 0::bigint, 0::double precision;
        RETURN;
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('gallery_stats_refresh')) THEN
        RAISE NOTICE 'gallery_stats_refresh: another refresh is running, nothing done';
        RETURN QUERY SELECT false, 0, 0::bigint, 0::double precision;
        RETURN;
    END IF;
    -- One statement, no temporary table: nothing to create in the catalog on every
    -- run (pg_cron calls this every few minutes), and plpgsql_check can see it all.
    -- The upsert and the delete touch disjoint rows (tags that exist / do not), and
    -- data-modifying WITH queries always run to completion, read or not.
    WITH fresh AS MATERIALIZED (
        SELECT t.id AS tag_id, s.source AS content_source, coalesce(c.n, 0) AS cardinality
          FROM public.tags t
         CROSS JOIN (VALUES ('items'), ('auto')) AS s(source)
          LEFT JOIN (SELECT ct.tag_id, ct.content_source, count(*) AS n
                       FROM public.content_tags ct GROUP BY 1, 2) AS c
                 ON c.tag_id = t.id AND c.content_source = s.source
    ), upserted AS (
        INSERT INTO public.tag_cardinality_stats AS st (tag_id, content_source, cardinality, updated_at)
        SELECT f.tag_id, f.content_source, f.cardinality, now() FROM fresh f
        ON CONFLICT (tag_id, content_source)
        DO UPDATE SET cardinality = EXCLUDED.cardinality, updated_at = EXCLUDED.updated_at
    ), removed AS (
        DELETE FROM public.tag_cardinality_stats st
         WHERE NOT EXISTS (SELECT 1 FROM public.tags t WHERE t.id = st.tag_id)
    )
    SELECT count(*)::integer, coalesce(sum(f.cardinality), 0)::bigint INTO v_tag_rows, v_links
      FROM fresh f;  -- upserted and removed run to completion though not read
    PERFORM _gallery_stats_sample();
    RETURN QUERY SELECT true, v_tag_rows, v_links,
                        extract(epoch FROM clock_timestamp() - v_started)::double precision;
END
$$;

COMMENT ON FUNCTION gallery.gallery_stats_refresh() IS
    'Recount tag_cardinality_stats from content_tags (one refresh at a time)';
