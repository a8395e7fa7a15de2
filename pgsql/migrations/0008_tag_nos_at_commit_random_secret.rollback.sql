-- Back to 0007: the content_tags triggers update tag_nos in the statement itself.
-- Dropping the queue waits for the transactions that still have changes in it
-- (they hold a lock on it), which apply them when they commit.
DROP TRIGGER content_tags_tag_nos_at_commit ON tag_nos_pending_xact;
DROP FUNCTION content_tags_apply_tag_nos();
DROP TABLE tag_nos_pending_xact;
DROP TABLE tag_nos_pending;

CREATE OR REPLACE FUNCTION content_tags_add_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT / AFTER UPDATE ... FOR EACH STATEMENT on content_tags with
    -- the new rows as new_links: their tags' numbers join the items' tag_nos. The new
    -- array is computed from the row being updated (after a concurrent update, its
    -- latest version), so concurrent writers never lose each other's tags.
    -- Cost: one pass over the statement's rows, one item update per distinct item.
    UPDATE content_items_all i
       SET tag_nos = ARRAY(SELECT DISTINCT x FROM unnest(i.tag_nos || a.nos) AS x ORDER BY x)
      FROM (SELECT l.content_id, l.content_source, array_agg(t.tag_no) AS nos
              FROM new_links l
              JOIN tags t ON t.id = l.tag_id
             GROUP BY l.content_id, l.content_source) AS a
     WHERE i.id = a.content_id AND i.source_type = a.content_source;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION content_tags_remove_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE / AFTER UPDATE ... FOR EACH STATEMENT on content_tags with
    -- the old rows as old_links: their tags' numbers leave the items' tag_nos (an
    -- update then adds the new rows' back, see content_tags_add_tag_nos).
    -- Cost: one pass over the statement's rows, one item update per distinct item.
    UPDATE content_items_all i
       SET tag_nos = ARRAY(SELECT x FROM unnest(i.tag_nos) AS x WHERE x <> ALL (a.nos) ORDER BY x)
      FROM (SELECT l.content_id, l.content_source, array_agg(t.tag_no) AS nos
              FROM old_links l
              JOIN tags t ON t.id = l.tag_id
             GROUP BY l.content_id, l.content_source) AS a
     WHERE i.id = a.content_id AND i.source_type = a.content_source;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION content_tags_clear_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER TRUNCATE on content_tags: no item has tags any more.
    -- Cost: one update per item that had tags (GIN index scan).
    UPDATE content_items_all SET tag_nos = '{}' WHERE tag_nos <> '{}';
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tags_remove_tag_no() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE DELETE FOR EACH ROW on tags: the tag's number leaves every item
    -- (its links are deleted after the tag, when the tag can no longer be looked up);
    -- BEFORE UPDATE OF tag_no: a tag's number never changes (55000).
    -- Cost: delete: a GIN index scan of the tag's items and one update each.
    IF TG_OP = 'UPDATE' THEN
        IF NEW.tag_no IS DISTINCT FROM OLD.tag_no THEN
            RAISE EXCEPTION 'tags.tag_no of tag % cannot change', OLD.id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'tag_no numbers the tag in content_items_all.tag_nos';
        END IF;
        RETURN NEW;
    END IF;
    UPDATE content_items_all SET tag_nos = array_remove(tag_nos, OLD.tag_no)
     WHERE tag_nos @> ARRAY[OLD.tag_no];
    RETURN OLD;
END
$$;

-- The key stays as it is (any key of 16 characters or more serves).
ALTER TABLE gallery_config ALTER COLUMN cursor_secret
    SET DEFAULT md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text);
COMMENT ON COLUMN gallery_config.cursor_secret IS
    'key that signs cursors against corruption and tampering; changing it invalidates every cursor handed out';
DO $rollback$
BEGIN
    IF EXISTS (SELECT 1 FROM gallery_schema_origin
                WHERE object_name = 'extension pgcrypto' AND origin = 'created') THEN
        DROP EXTENSION pgcrypto;
        DELETE FROM gallery_schema_origin WHERE object_name = 'extension pgcrypto';
    END IF;
END
$rollback$;
