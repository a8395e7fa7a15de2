DROP TABLE IF EXISTS legacy_tags_backfill;
DROP TRIGGER IF EXISTS content_items_all_sync_legacy_tags ON content_items_all;
DROP FUNCTION IF EXISTS content_items_all_sync_legacy_tags();
