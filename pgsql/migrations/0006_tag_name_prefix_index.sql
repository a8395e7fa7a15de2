-- depends: 0005_gallery_config
-- tag_search(prefix): case-insensitive prefix match on tag names, from an index.
CREATE INDEX tags_lower_name_prefix_idx ON tags (lower(name) text_pattern_ops);
