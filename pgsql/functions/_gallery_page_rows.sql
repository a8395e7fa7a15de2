CREATE OR REPLACE FUNCTION gallery._gallery_page_rows(  -- noqa: PD003 inlined into gallery_page's statements, whose search_path is pinned; a SET clause would stop the inlining and the plan caching
    p_strategy text, p_tags uuid[], p_tag_nos integer[], p_match text, p_types text[],
    p_own text[], p_others text[], p_viewer_id bigint, p_after_at timestamptz,
    p_after_id bigint, p_has_cursor boolean, p_forward boolean, p_page_size integer,
    p_filter_hash text, p_secret text)
RETURNS TABLE (id bigint, source_type text, created_at timestamptz, creator_id bigint,
               title text, content_type text, content_data text, path_thumb text,
               path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb,
               is_private boolean, quality_score double precision, updated_at timestamptz,
               row_cursor text, has_more boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    /*
    Contract: gallery_page's rows, in one statement (so one snapshot): the
    strategy p_strategy (_gallery_<strategy>, with the parameters every
    strategy takes, p_limit = p_page_size + 1) reads the items nearest the
    cursor, in the direction of travel (p_forward: older items); the page is
    the p_page_size of them nearest the cursor (the first of the walk),
    newest first, each with its row_cursor; has_more (on every row) says
    whether there was one more.
    gallery_page passes p_strategy as a constant, so that PostgreSQL drops
    the other strategies' branches when it plans the statement.
    row_cursor: g3.<created_at>.<id>.<filter hash>.<sig>, created_at as
    PostgreSQL stores it (timestamptz_send: µs since 2000-01-01 UTC, a
    signed 64-bit integer, here 16 hex digits; exact over the whole range,
    infinity and -infinity included), sig = the first 20 hex digits of
    HMAC-SHA-256(payload, p_secret) (pgcrypto's hmac), read back by
    _gallery_cursor_read.
    Cost: the strategy's, one HMAC per row, and under prev a sort of the
    page's rows.
    */
    SELECT w.id, w.source_type, w.created_at, w.creator_id,
           w.title, w.content_type, w.content_data, w.path_thumb,
           w.path_thumbs_alt_res, w.prompt, w.item_metadata,
           w.is_private, w.quality_score, w.updated_at,
           w.payload || '.' || left(encode(gallery._gallery_hmac_sha256(w.payload, p_secret), 'hex'), 20),
           w.found > p_page_size
      FROM (SELECT s.*, count(*) OVER () AS found,
                   -- (the stored bytes in hex: ~4x cheaper than decimal µs through numeric)
                   'g3.' || encode(timestamptz_send(s.created_at), 'hex')
                   || '.' || s.id || '.' || p_filter_hash AS payload
              FROM (SELECT * FROM gallery._gallery_order_first(
                                      p_tags, p_tag_nos, p_match, p_types, p_own, p_others,
                                      p_viewer_id, p_after_at, p_after_id, p_has_cursor,
                                      p_forward, p_page_size + 1)
                     WHERE p_strategy = 'order_first'
                    UNION ALL
                    SELECT * FROM gallery._gallery_tag_walk(
                                      p_tags, p_tag_nos, p_match, p_types, p_own, p_others,
                                      p_viewer_id, p_after_at, p_after_id, p_has_cursor,
                                      p_forward, p_page_size + 1)
                     WHERE p_strategy = 'tag_walk'
                    UNION ALL
                    SELECT * FROM gallery._gallery_tag_merge(
                                      p_tags, p_tag_nos, p_match, p_types, p_own, p_others,
                                      p_viewer_id, p_after_at, p_after_id, p_has_cursor,
                                      p_forward, p_page_size + 1)
                     WHERE p_strategy = 'tag_merge'
                    UNION ALL
                    SELECT * FROM gallery._gallery_tag_array(
                                      p_tags, p_tag_nos, p_match, p_types, p_own, p_others,
                                      p_viewer_id, p_after_at, p_after_id, p_has_cursor,
                                      p_forward, p_page_size + 1)
                     WHERE p_strategy = 'tag_array') AS s
             -- the strategy's rows come in walk order, nearest the cursor first (its one
             -- branch for this match and direction ends in its ORDER BY and LIMIT; the
             -- count passes them on in that order): the page is the first p_page_size
             LIMIT p_page_size) AS w
     -- newest first: the walk's own order under next (constant keys: no sort at all), the
     -- page's p_page_size rows reversed under prev
     ORDER BY CASE WHEN p_forward THEN NULL ELSE w.created_at END DESC,
              CASE WHEN p_forward THEN NULL ELSE w.id END DESC
$$;

COMMENT ON FUNCTION gallery._gallery_page_rows(text, uuid[], integer[], text, text[], text[], text[], bigint, timestamptz, bigint, boolean, boolean, integer, text, text) IS
    'Internal: gallery_page''s rows and cursors, from the strategy it names';
