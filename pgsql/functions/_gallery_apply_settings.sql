CREATE OR REPLACE FUNCTION gallery._gallery_apply_settings(p_work_mem_mb integer)  -- noqa: PD003 it sets search_path for its caller, which a SET clause of its own would undo at return; every name it uses is pg_catalog's, qualified
RETURNS text
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$
    /*
    Contract: the settings gallery_page's statements are planned and run
    with, for a caller that runs a page's statement outside gallery_page
    (gallery_explain; the bench's bare query): gallery_page's SET clauses,
    read from pg_proc (gallery_page.sql holds their one list, with why each
    is set), then work_mem = p_work_mem_mb MB (gallery_config.max_work_mem_mb,
    which gallery_page sets the same way), each with set_config(...,
    is_local => true). A caller that names every one of those variables in
    its own SET clauses gets its caller's values back when it returns
    (gallery_explain); otherwise they hold until the transaction ends.
    Returns the values set. Cost: one pg_proc row, ten set_config calls.
    */
    SELECT pg_catalog.string_agg(
               pg_catalog.set_config(pg_catalog.split_part(c, '=', 1),
                                     pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1), true),
               ', ')
           || ', ' || pg_catalog.set_config('work_mem', p_work_mem_mb || 'MB', true)
      FROM pg_catalog.pg_proc p, pg_catalog.unnest(p.proconfig) AS c
     WHERE p.oid = 'gallery.gallery_page(uuid[], text, integer, text, text[], bigint, text, text)'
                   ::pg_catalog.regprocedure
$$;

COMMENT ON FUNCTION gallery._gallery_apply_settings(integer) IS
    'Internal: gallery_page''s settings and work_mem, for a page statement run outside it';
