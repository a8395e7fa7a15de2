-- depends: 0018_link_privacy
-- related_tags' default sample bounded by work, not by a count of items: the newest
-- matches up to 1,000, cut where their tags add up to related_tags_max_links links, so
-- that a facet's cost does not grow with the number of tags per item (grouping the tags
-- of 1,000 items that carry ~80 each took most of a call on dense data). An explicit
-- `sample` is read whole as before. Catalog change only (a constant default).
ALTER TABLE gallery_config ADD COLUMN related_tags_max_links integer NOT NULL DEFAULT 30000
    CONSTRAINT related_tags_max_links_range CHECK (related_tags_max_links BETWEEN 1 AND 10000000);
COMMENT ON COLUMN gallery_config.related_tags_max_links IS
    'related_tags with its default sample: the newest matches (at most 1,000) whose tag links add up to at most this many are counted';
