-- depends: 0017_tag_merge_knob
-- Link privacy: content_tags gets a copy of its item's is_private, and the postings index
-- content_tags_tag_created_idx carries it as well as content_source, so that
-- gallery_count counts a tag's items in scope from its postings alone (index-only: no item
-- probe per posting), as far as the cap. Kept exact in the writer's transaction like
-- created_at (0011), by the same triggers:
--   * a link inserted takes its item's is_private with its created_at
--     (content_tags_take_created_at; a writer that passes created_at skips that probe,
--     and the commit sets both);
--   * an item whose is_private changes passes it to its links
--     (content_items_all_redate_tags, now fired by either column);
--   * at commit, content_tags_apply_tag_nos aligns both columns of the links of the items
--     whose links changed with the item as it is then.
--
-- Catalog changes only: the column comes with a constant default (false: no rewrite).
-- On a table with links, `pydeploy apply` then sets it on the links of private items
-- online, in short batches, builds the index with the new column CONCURRENTLY under another
-- name, drops the old one and takes its name (pydeploy/postings.py). Until that index is
-- there, gallery_count does not read is_private from the links. On an empty table the
-- index is rebuilt here.
ALTER TABLE content_tags ADD COLUMN is_private boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN content_tags.is_private IS
    'The item''s is_private, kept by triggers (any value written is replaced at commit); the online fill of migration 0018 sets it on older links';

ALTER TABLE gallery_config ADD COLUMN enable_count_postings boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN gallery_config.enable_count_postings IS
    'Let gallery_count count one tag, or any of several, from the postings (content_tags.is_private) where the scope allows; off: as before migration 0018';

DROP TRIGGER content_items_all_redate_tags ON content_items_all;
CREATE TRIGGER content_items_all_redate_tags
    AFTER UPDATE OF created_at, is_private ON content_items_all
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR OLD.is_private IS DISTINCT FROM NEW.is_private)
    EXECUTE FUNCTION gallery.content_items_all_redate_tags();

DO $migration$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM content_tags) THEN
        DROP INDEX content_tags_tag_created_idx;
        CREATE INDEX content_tags_tag_created_idx
            ON content_tags (tag_id, created_at DESC, content_id DESC)
            INCLUDE (content_source, is_private);
    END IF;
END
$migration$;
