-- Back to 0010: the tag-first index on (tag_id, content_source, content_id) again (built
-- inside the rollback's transaction: on a big table, minutes of blocked writes).
CREATE INDEX IF NOT EXISTS content_tags_tag_source_content_idx
    ON content_tags (tag_id, content_source, content_id);
DROP INDEX IF EXISTS content_tags_tag_created_idx;
ALTER TABLE gallery_config DROP COLUMN enable_tag_walk;
DROP TRIGGER content_tags_sync_updated_tag_nos ON content_tags;
CREATE TRIGGER content_tags_sync_updated_tag_nos_1
    AFTER UPDATE ON content_tags REFERENCING OLD TABLE AS old_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_remove_tag_nos();
CREATE TRIGGER content_tags_sync_updated_tag_nos_2
    AFTER UPDATE ON content_tags REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_add_tag_nos();
DROP FUNCTION IF EXISTS gallery.content_tags_update_tag_nos();
DROP TRIGGER content_items_all_redate_tags ON content_items_all;
DROP TRIGGER content_tags_take_created_at_update ON content_tags;
DROP TRIGGER content_tags_take_created_at_insert ON content_tags;
DROP FUNCTION IF EXISTS gallery.content_items_all_redate_tags();
DROP FUNCTION IF EXISTS gallery.content_tags_take_created_at();
ALTER TABLE content_tags DROP COLUMN created_at;
