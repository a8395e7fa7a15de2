-- depends: 0002_content_items_all
-- content_tags: the item-tag links, the one source of truth the application writes;
-- tag_cardinality_stats: per tag and source, how many items carry it (the planner's input).
--
-- Integrity without foreign keys: PostgreSQL cannot point a foreign key at
-- content_items_all by id alone (a unique index on a partitioned table must
-- include the partition key), and a per-row RI check would cost a backfill of
-- 88 M links hours. Instead:
--   * deleting an item or a tag deletes its links (row triggers);
--   * every INSERT or UPDATE of links is checked once per statement, with one
--     anti-join over the transition table, for an item and a tag that exist;
--   * an item's id and source never change (content_items_all_key_immutable).

DO $migration$
BEGIN
    IF to_regclass('content_tags') IS NOT NULL THEN
        RAISE EXCEPTION 'table content_tags already exists'
            USING ERRCODE = 'duplicate_table',
                  HINT = 'rename or drop it: pydeploy creates content_tags and fills it with `pydeploy backfill`';
    END IF;
    EXECUTE format($ddl$
        CREATE TABLE content_tags (
            content_id     %s NOT NULL,
            content_source text NOT NULL CHECK (content_source IN ('items', 'auto')),
            tag_id         uuid NOT NULL,
            PRIMARY KEY (content_id, content_source, tag_id)
        )$ddl$, format_type((SELECT atttypid FROM pg_attribute
                              WHERE attrelid = 'content_items_all'::regclass
                                AND attname = 'id'), NULL));
END
$migration$;
COMMENT ON TABLE content_tags IS
    'Item-tag links (content_source = the item''s source_type). The source of truth for tags.';

-- Tag-first access: every item of a tag in one source, in id order.
CREATE INDEX content_tags_tag_source_content_idx ON content_tags (tag_id, content_source, content_id);

CREATE TABLE tag_cardinality_stats (
    tag_id         uuid NOT NULL,
    content_source text NOT NULL CHECK (content_source IN ('items', 'auto')),
    cardinality    bigint NOT NULL CHECK (cardinality >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tag_id, content_source)
);
COMMENT ON TABLE tag_cardinality_stats IS
    'How many items of each source carry each tag; read by the gallery planner, refreshed from content_tags';

CREATE FUNCTION content_tags_check_references() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
DECLARE
    v_link record;
BEGIN
    -- Contract: AFTER INSERT / AFTER UPDATE ... FOR EACH STATEMENT on content_tags,
    -- with the new rows as transition table new_links. Raises foreign_key_violation
    -- naming the first link whose item or tag does not exist.
    -- Cost: one pass over the statement's rows to find its distinct items and tags,
    -- then one index probe per distinct item and per distinct tag.
    SELECT l.content_id, l.content_source, NULL::uuid AS tag_id, true AS item_missing
      INTO v_link
      FROM (SELECT DISTINCT content_id, content_source FROM new_links) AS l
     WHERE NOT EXISTS (SELECT 1 FROM content_items_all i
                        WHERE i.id = l.content_id AND i.source_type = l.content_source)
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT NULL AS content_id, NULL AS content_source, l.tag_id, false AS item_missing
          INTO v_link
          FROM (SELECT DISTINCT tag_id FROM new_links) AS l
         WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = l.tag_id)
         LIMIT 1;
    END IF;
    IF FOUND THEN
        IF v_link.item_missing THEN
            RAISE EXCEPTION 'content_tags: no item with id % and source_type %',
                    v_link.content_id, v_link.content_source
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'insert the item into content_items_all before its tags';
        END IF;
        RAISE EXCEPTION 'content_tags: no tag with id %', v_link.tag_id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'insert the tag into tags first';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER content_tags_check_inserted_references
    AFTER INSERT ON content_tags REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION content_tags_check_references();
CREATE TRIGGER content_tags_check_updated_references
    AFTER UPDATE ON content_tags REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION content_tags_check_references();

CREATE FUNCTION content_items_all_delete_tags() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE FOR EACH ROW on content_items_all (both partitions):
    -- the item's links go with it. Cost: one primary-key range delete on content_tags.
    DELETE FROM content_tags WHERE content_id = OLD.id AND content_source = OLD.source_type;
    RETURN NULL;
END
$$;
CREATE TRIGGER content_items_all_delete_tags
    AFTER DELETE ON content_items_all
    FOR EACH ROW EXECUTE FUNCTION content_items_all_delete_tags();

CREATE FUNCTION tags_delete_links() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE FOR EACH ROW on tags: the tag's links and stats go with it.
    -- Cost: a range delete on content_tags_tag_source_content_idx (all items of the tag).
    DELETE FROM content_tags WHERE tag_id = OLD.id;
    DELETE FROM tag_cardinality_stats WHERE tag_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tags_delete_links
    AFTER DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION tags_delete_links();
