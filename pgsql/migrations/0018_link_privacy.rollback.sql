-- Back to 0017: the postings index without is_private (dropping the column drops the index
-- that includes it; rebuilt inside the rollback's transaction: on a big table, minutes of
-- blocked writes), the item trigger on created_at only, no knob.
DROP INDEX IF EXISTS content_tags_tag_created_new_idx;
ALTER TABLE gallery_config DROP COLUMN enable_count_postings;
ALTER TABLE content_tags DROP COLUMN is_private;
CREATE INDEX IF NOT EXISTS content_tags_tag_created_idx
    ON content_tags (tag_id, created_at DESC, content_id DESC) INCLUDE (content_source);
DROP TRIGGER content_items_all_redate_tags ON content_items_all;
CREATE TRIGGER content_items_all_redate_tags
    AFTER UPDATE OF created_at ON content_items_all
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION gallery.content_items_all_redate_tags();
