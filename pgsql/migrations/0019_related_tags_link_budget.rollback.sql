ALTER TABLE gallery_config DROP COLUMN related_tags_max_links;
