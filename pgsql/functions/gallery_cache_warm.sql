CREATE OR REPLACE FUNCTION gallery.gallery_cache_warm(max_pages integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- the admin role (and its pg_cron job) has no right on gallery_page_cache
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    v_entry record;
    v_warmed integer := 0;
BEGIN
    /*
    Contract (admin role; the pg_cron job gallery-cache-warm, every minute):
    reads again, and stores, the first pages (no cursor, direction 'next')
    still in the cache whose entry a write, a knob change or the TTL has made
    invalid: the filters asked for recently, and since changed, are served
    from the cache again before their next caller asks. At most max_pages
    of them, the most recently stored first; returns how many. Nothing when
    the cache is off. A first page whose call is refused now (a knob such as
    max_tags changed) is dropped.
    Cost: one gallery_page call per page warmed, in this one transaction
    (its pages are served from its commit on); one pass over the cache.
    */
    IF max_pages IS NULL OR max_pages NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_pages must be between 1 and 10000, got %', coalesce(max_pages::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass max_pages => 100, for example';
    END IF;
    IF NOT (SELECT g.cache_enabled FROM public.gallery_config g) THEN
        RETURN 0;
    END IF;
    FOR v_entry IN
        SELECT e.key, c.*
          FROM public.gallery_page_cache e
         CROSS JOIN LATERAL jsonb_to_record(e.first_page)
                   AS c (tags uuid[], match text, sources text[], viewer_id bigint, page_size integer)
         WHERE e.first_page IS NOT NULL
           AND NOT (e.expires_at > now()
                    AND e.config = (SELECT g.xmin FROM public.gallery_config g)
                    AND e.versions = (SELECT coalesce(sum(v.version), 0)
                                        FROM public.gallery_cache_versions v
                                       WHERE v.key = ANY (e.guard)))
         ORDER BY e.filled_at DESC
         LIMIT max_pages
    LOOP
        DELETE FROM public.gallery_page_cache e WHERE e.key = v_entry.key;
        BEGIN
            PERFORM FROM gallery_page(tags => v_entry.tags, match => v_entry.match,
                                      sources => v_entry.sources, viewer_id => v_entry.viewer_id,
                                      page_size => v_entry.page_size);
            v_warmed := v_warmed + 1;
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;  -- refused now: stays dropped
        END;
    END LOOP;
    RETURN v_warmed;
END
$$;

COMMENT ON FUNCTION gallery.gallery_cache_warm(integer) IS
    'Read again the invalidated first pages still in the page cache (admin; pg_cron job gallery-cache-warm)';
