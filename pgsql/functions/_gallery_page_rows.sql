CREATE OR REPLACE FUNCTION gallery._gallery_page_rows(  -- noqa: PD003 inlined into gallery_page's statements, whose search_path is pinned; a SET clause would stop the inlining and the plan caching
    p_ids bigint[], p_sources text[], p_created_at timestamptz[], p_forward boolean,
    p_page_size integer, p_filter_hash text, p_secret text)
RETURNS TABLE (id bigint, source_type text, created_at timestamptz, creator_id bigint,
               title text, content_type text, content_data text, path_thumb text,
               path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb,
               is_private boolean, quality_score double precision, updated_at timestamptz,
               row_cursor text, has_more boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    /*
    Contract: gallery_page's rows from what a strategy read, in the same
    statement (so the same snapshot): p_ids, p_sources, p_created_at are the
    page_size + 1 rows (at most) the strategy read nearest the cursor, in the
    direction of travel (p_forward: older items). The page is the p_page_size
    of them nearest the cursor, newest first, each item's row read by primary
    key, with its row_cursor; has_more (on every row) says whether there was
    one more. Each item's position comes from the strategy's row, read in the
    same snapshot as the item (content_tags.created_at is the item's). row_cursor: g2.<created_at in µs since 1970>.<id>.<filter hash>.<sig>,
    sig = the first 20 hex digits of HMAC-SHA-256(payload, p_secret)
    (pgcrypto's hmac), read back by _gallery_cursor_read. The µs are exact
    (numeric arithmetic over the whole timestamp range, counted from
    PostgreSQL's own epoch, 2000, so that the interval cannot overflow);
    'Infinity' / '-Infinity' for infinite timestamps.
    Cost: one primary-key probe and one HMAC per row.
    */
    SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
           i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
           i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb,
           i.is_private, i.quality_score::double precision, i.updated_at::timestamptz,
           w.payload || '.' || left(encode(public.hmac(w.payload, p_secret, 'sha256'), 'hex'), 20),
           cardinality(p_ids) > p_page_size
      FROM (SELECT u.item_id, u.item_source, u.item_created_at,
                   row_number() OVER (ORDER BY u.item_created_at DESC, u.item_id DESC) AS newer,
                   'g2.'
                   || CASE WHEN isfinite(u.item_created_at)
                           THEN trunc(extract(epoch FROM u.item_created_at
                                              - timestamptz '2000-01-01 00:00:00+00') * 1000000)
                                + 946684800000000
                           WHEN u.item_created_at > timestamptz 'epoch' THEN numeric 'Infinity'
                           ELSE numeric '-Infinity' END
                   || '.' || u.item_id || '.' || p_filter_hash AS payload
              FROM unnest(p_ids, p_sources, p_created_at) AS u(item_id, item_source, item_created_at)
           ) AS w
      JOIN public.content_items_all i ON i.id = w.item_id AND i.source_type = w.item_source
     -- the p_page_size rows nearest the cursor: the newest under next, the oldest under prev
     WHERE CASE WHEN p_forward THEN w.newer <= p_page_size
                ELSE w.newer > cardinality(p_ids) - p_page_size END
     ORDER BY w.item_created_at DESC, w.item_id DESC
$$;

COMMENT ON FUNCTION gallery._gallery_page_rows(bigint[], text[], timestamptz[], boolean, integer, text, text) IS
    'Internal: gallery_page''s rows and cursors from the rows a strategy read';
