-- The trigger functions go back to public, as they are (their bodies name their
-- tables with schema, so they work there too). The schema gallery stays: the
-- functions pgsql/functions/ deploys live in it.
ALTER FUNCTION gallery.content_items_all_id_unique() SET SCHEMA public;
ALTER FUNCTION gallery.content_items_all_key_immutable() SET SCHEMA public;
ALTER FUNCTION gallery.content_tags_check_references() SET SCHEMA public;
ALTER FUNCTION gallery.content_items_all_delete_tags() SET SCHEMA public;
ALTER FUNCTION gallery.tags_delete_links() SET SCHEMA public;
ALTER FUNCTION gallery.content_tags_add_tag_nos() SET SCHEMA public;
ALTER FUNCTION gallery.content_tags_remove_tag_nos() SET SCHEMA public;
ALTER FUNCTION gallery.content_tags_clear_tag_nos() SET SCHEMA public;
ALTER FUNCTION gallery.tags_remove_tag_no() SET SCHEMA public;
ALTER FUNCTION gallery.content_items_all_guard_tag_nos() SET SCHEMA public;
ALTER FUNCTION gallery.content_tags_apply_tag_nos() SET SCHEMA public;
DO $migration$
BEGIN
    IF to_regprocedure('gallery.content_items_all_sync_legacy_tags()') IS NOT NULL THEN
        ALTER FUNCTION gallery.content_items_all_sync_legacy_tags() SET SCHEMA public;
    END IF;
END
$migration$;
