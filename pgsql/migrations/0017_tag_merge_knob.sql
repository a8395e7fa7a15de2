-- depends: 0016_count_memo
-- Strategy tag_merge (pgsql/functions/_gallery_tag_merge.sql): a page of items carrying
-- two frequent tags that rarely meet, found by merging the two tags' postings in page
-- order (index-only, in content_tags_tag_created_idx) instead of probing an item per
-- posting of the rarer one (tag_walk). Its knob, like the other strategies'.
-- Catalog change only (a constant default: no table rewrite).
ALTER TABLE gallery_config ADD COLUMN enable_tag_merge boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN gallery_config.enable_tag_merge IS
    'Let gallery_plan choose tag_merge (merge the two rarest tags'' postings in page order); it also needs content_tags_tag_created_idx';
