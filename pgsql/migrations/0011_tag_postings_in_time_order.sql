-- depends: 0010_package_schema
-- Per-tag postings in time order: content_tags gets a copy of its item's created_at, and
-- the tag-first index becomes (tag_id, created_at DESC, content_id DESC) INCLUDE
-- (content_source). A page can then walk the rarest tag's items newest first from the
-- cursor and test the other tags in the item row it reads (strategy tag_walk), at a cost
-- bounded by that tag's count whatever the tags' co-occurrence and wherever in time its
-- items sit; 'any' reads each tag's first items from the cursor, in order.
--
-- Kept exact in the writer's transaction on every write path:
--   * a link inserted or updated takes its item's created_at (row triggers; a value
--     written to the column is replaced, one a writer inserts is checked at commit);
--   * an item whose created_at changes passes it to its links (row trigger);
--   * at commit, content_tags_apply_tag_nos (which locks the items whose links changed)
--     aligns their links with the item as it is then: a link inserted while another
--     transaction re-dated its item, or with a wrong date, cannot keep it.
-- An update of links that keeps their keys (content_id, content_source, tag_id), like
-- taking a new created_at, no longer queues their tag numbers out of tag_nos and back
-- in: one update trigger with both transition tables replaces the two of 0007.
--
-- Catalog changes only: the new column is NULL on existing links (nothing is
-- rewritten here). `pydeploy apply` then fills it online, in short batches, builds
-- the new index CONCURRENTLY and drops the old one (pydeploy/postings.py). Until the
-- new index is valid, gallery_plan does not choose tag_walk. On an empty table the
-- index is built here.
ALTER TABLE content_tags ADD COLUMN created_at timestamptz;
COMMENT ON COLUMN content_tags.created_at IS
    'The item''s created_at, kept by triggers (any value written is replaced); NULL only before the online fill';

-- The functions' bodies are in pgsql/functions/, deployed right after the migrations
-- in the same transaction (OR REPLACE: after a rollback of this migration, the files
-- have made them again).
CREATE OR REPLACE FUNCTION gallery.content_tags_take_created_at() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NEW; END';
CREATE OR REPLACE FUNCTION gallery.content_items_all_redate_tags() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';
CREATE OR REPLACE FUNCTION gallery.content_tags_update_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';

DROP TRIGGER content_tags_sync_updated_tag_nos_1 ON content_tags;
DROP TRIGGER content_tags_sync_updated_tag_nos_2 ON content_tags;
CREATE TRIGGER content_tags_sync_updated_tag_nos
    AFTER UPDATE ON content_tags REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_update_tag_nos();

-- (A writer that passes created_at saves the probe; the commit checks it. The online
-- fill sets NULL ones to the item's date itself.)
CREATE TRIGGER content_tags_take_created_at_insert
    BEFORE INSERT ON content_tags
    FOR EACH ROW WHEN (NEW.created_at IS NULL)
    EXECUTE FUNCTION gallery.content_tags_take_created_at();
CREATE TRIGGER content_tags_take_created_at_update
    BEFORE UPDATE ON content_tags
    FOR EACH ROW WHEN (OLD.created_at IS NOT NULL OR OLD.content_id <> NEW.content_id
                       OR OLD.content_source <> NEW.content_source)
    EXECUTE FUNCTION gallery.content_tags_take_created_at();
CREATE TRIGGER content_items_all_redate_tags
    AFTER UPDATE OF created_at ON content_items_all
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION gallery.content_items_all_redate_tags();

ALTER TABLE gallery_config ADD COLUMN enable_tag_walk boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN gallery_config.enable_tag_walk IS
    'Let gallery_plan choose tag_walk (walk the rarest tag''s items newest first); it also needs content_tags_tag_created_idx';

DO $migration$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM content_tags) THEN
        CREATE INDEX content_tags_tag_created_idx
            ON content_tags (tag_id, created_at DESC, content_id DESC) INCLUDE (content_source);
        DROP INDEX content_tags_tag_source_content_idx;
    END IF;
END
$migration$;
