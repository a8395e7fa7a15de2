DROP TRIGGER tags_delete_links ON tags;
DROP FUNCTION tags_delete_links();
DROP TRIGGER content_items_all_delete_tags ON content_items_all;
DROP FUNCTION content_items_all_delete_tags();
DROP TABLE tag_cardinality_stats;
DROP TABLE content_tags;
DROP FUNCTION content_tags_check_references();
