CREATE OR REPLACE FUNCTION _gallery_cursor_make(
    p_created_at timestamptz, p_id bigint, p_filter_hash text, p_secret text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = public, pg_temp
AS $$
    /*
    Contract: the opaque cursor that continues after the item (p_created_at,
    p_id) for the filters hashed in p_filter_hash: URL-safe base64 of
      g1|<created_at as microseconds since 1970>|<id>|<filter hash>|<signature>
    where the signature is the first 16 hex digits of
    sha256(secret | payload | secret): a corrupted, truncated or edited cursor
    fails _gallery_cursor_read. Cost: one sha256 of ~60 bytes.
    */
    SELECT translate(rtrim(encode(convert_to(payload || '|' || left(encode(sha256(
               convert_to(p_secret || '|' || payload || '|' || p_secret, 'UTF8')), 'hex'), 16),
               'UTF8'), 'base64'), '='), E'+/\n', '-_')
      FROM (SELECT format('g1|%s|%s|%s',
                          (extract(epoch FROM p_created_at) * 1000000)::bigint,
                          p_id, p_filter_hash) AS payload) AS p
$$;

COMMENT ON FUNCTION _gallery_cursor_make(timestamptz, bigint, text, text) IS
    'Internal: signed, opaque cursor continuing after one gallery item';
