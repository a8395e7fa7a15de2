ALTER TABLE gallery_config DROP COLUMN enable_tag_merge;
