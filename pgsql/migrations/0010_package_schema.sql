-- depends: 0009_tag_time_and_pair_stats
-- The package's functions get a schema of their own, gallery, owned by the role that
-- deploys and writable by it alone; every function runs with
-- search_path = pg_catalog, gallery, pg_temp and names the application's tables with
-- their schema (public). So no object another role creates in public (an operator, a
-- function with a closer argument type) can capture a name they use, whoever calls
-- them. pydeploy grants EXECUTE to the reader and admin roles (docs/security.md).
-- The trigger functions earlier migrations created in public move there; the files in
-- pgsql/functions/ redefine them right after the migrations. Their triggers keep
-- pointing at them (same functions, new schema). Catalog changes only.
CREATE SCHEMA IF NOT EXISTS gallery;
COMMENT ON SCHEMA gallery IS 'Functions of the gallery package (pydeploy); the tables stay in public';
-- (After a rollback of this migration, pgsql/functions/ has made copies of the trigger
-- functions in gallery that no trigger uses: they make way for the ones moved here.)
DROP FUNCTION IF EXISTS gallery.content_items_all_id_unique();
ALTER FUNCTION public.content_items_all_id_unique() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_items_all_key_immutable();
ALTER FUNCTION public.content_items_all_key_immutable() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_tags_check_references();
ALTER FUNCTION public.content_tags_check_references() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_items_all_delete_tags();
ALTER FUNCTION public.content_items_all_delete_tags() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.tags_delete_links();
ALTER FUNCTION public.tags_delete_links() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_tags_add_tag_nos();
ALTER FUNCTION public.content_tags_add_tag_nos() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_tags_remove_tag_nos();
ALTER FUNCTION public.content_tags_remove_tag_nos() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_tags_clear_tag_nos();
ALTER FUNCTION public.content_tags_clear_tag_nos() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.tags_remove_tag_no();
ALTER FUNCTION public.tags_remove_tag_no() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_items_all_guard_tag_nos();
ALTER FUNCTION public.content_items_all_guard_tag_nos() SET SCHEMA gallery;
DROP FUNCTION IF EXISTS gallery.content_tags_apply_tag_nos();
ALTER FUNCTION public.content_tags_apply_tag_nos() SET SCHEMA gallery;

-- The legacy dual write exists only in databases adopted from the reference
-- application (migration 0004), and no file redefines it: it is redefined here.
DO $migration$
BEGIN
    IF to_regprocedure('public.content_items_all_sync_legacy_tags()') IS NULL THEN
        RETURN;
    END IF;
    DROP FUNCTION IF EXISTS gallery.content_items_all_sync_legacy_tags();
ALTER FUNCTION public.content_items_all_sync_legacy_tags() SET SCHEMA gallery;
    CREATE OR REPLACE FUNCTION gallery.content_items_all_sync_legacy_tags() RETURNS trigger
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, gallery, pg_temp
    AS $function$
    BEGIN
        -- Contract: AFTER INSERT OR UPDATE OF tags FOR EACH ROW on content_items_all.
        -- content_tags gets exactly the distinct non-NULL elements of NEW.tags (NULL = no
        -- tags). An unknown tag id fails the write (content_tags_check_references).
        -- Cost: one delete and one insert on content_tags, proportional to the array.
        IF TG_OP = 'UPDATE' THEN
            DELETE FROM public.content_tags
             WHERE content_id = NEW.id AND content_source = NEW.source_type
               AND tag_id <> ALL (coalesce(NEW.tags, '{}'));
        END IF;
        INSERT INTO public.content_tags (content_id, content_source, tag_id)
        SELECT DISTINCT NEW.id, NEW.source_type, t
          FROM unnest(NEW.tags) AS t
         WHERE t IS NOT NULL
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $function$;
END
$migration$;
