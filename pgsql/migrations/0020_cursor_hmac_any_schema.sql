-- depends: 0019_related_tags_link_budget
-- Cursors signed through gallery._gallery_hmac_sha256 instead of public.hmac: migration
-- 0008 keeps an existing pgcrypto in the schema it lives in (managed services put
-- extensions in a schema of their own), and there public.hmac does not exist, so every
-- page failed. The wrapper is made here, not in pgsql/functions, because its body names
-- pgcrypto's schema as found. Its SQL-standard body (RETURN) is bound to pgcrypto's
-- function when created: moving pgcrypto later does not break it, dropping pgcrypto asks
-- for CASCADE, and no function named hmac created later in some schema can stand in for
-- it. PostgreSQL inlines it into the callers' statements (one expression, no SET
-- clause): it costs what the direct call did.
DO $migration$
BEGIN
    EXECUTE format(
        'CREATE FUNCTION gallery._gallery_hmac_sha256(payload text, secret text)'
        ' RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE'
        ' RETURN %I.hmac(payload, secret, %L)',
        (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'pgcrypto'),
        'sha256');
END
$migration$;
COMMENT ON FUNCTION gallery._gallery_hmac_sha256(text, text) IS
    'Internal: HMAC-SHA-256 of a cursor''s payload (pgcrypto''s hmac, in whatever schema it was found by migration 0020)';
