-- depends: 0007_item_tag_numbers
-- tag_nos is written at commit, in item id order; cursor keys come from
-- gen_random_bytes (end of file).
--
-- Until now the content_tags triggers updated the items' tag_nos in the statement
-- that changed the links, so a transaction held its items' row locks from its
-- first link on. Two transactions tagging the same two items in opposite order
-- (T1 item 1, T2 item 2, T1 item 2, T2 item 1) then deadlocked, which inserting
-- the links alone never did. Now each statement only queues its changes
-- (tag_nos_pending, one row per item and statement), and one deferred trigger per
-- transaction applies them just before commit, locking the items in id order:
-- concurrent taggers wait for each other briefly at commit instead of
-- deadlocking. The copy is still exact for every other transaction; within the
-- tagging transaction it catches up at commit, or at once with
-- SET CONSTRAINTS content_tags_tag_nos_at_commit IMMEDIATE (docs/db.md).

-- Rows live only inside the transaction that writes them (deleted before it
-- commits), so nothing here needs to survive a crash: unlogged, no WAL.
CREATE UNLOGGED TABLE tag_nos_pending (
    xact           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    content_id     bigint NOT NULL,
    content_source text NOT NULL,
    added          integer[] NOT NULL DEFAULT '{}',
    removed        integer[] NOT NULL DEFAULT '{}'
);
CREATE INDEX tag_nos_pending_xact_idx ON tag_nos_pending (xact);
COMMENT ON TABLE tag_nos_pending IS
    'tag_nos changes queued by the content_tags triggers, applied and deleted when their transaction commits';

-- One row per transaction with queued changes: its insertion queues the one
-- deferred trigger call that applies them.
CREATE UNLOGGED TABLE tag_nos_pending_xact (
    xact xid8 PRIMARY KEY
);
COMMENT ON TABLE tag_nos_pending_xact IS
    'Transactions with queued tag_nos changes (one deferred apply each)';

CREATE OR REPLACE FUNCTION content_tags_add_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT / AFTER UPDATE ... FOR EACH STATEMENT on content_tags with
    -- the new rows as new_links: their tags' numbers are queued for the items'
    -- tag_nos; content_tags_apply_tag_nos writes them at commit. No item is locked here.
    -- Cost: one pass over the statement's rows, one queue row per distinct item.
    INSERT INTO tag_nos_pending (content_id, content_source, added)
    SELECT l.content_id, l.content_source, array_agg(DISTINCT t.tag_no)
      FROM new_links l
      JOIN tags t ON t.id = l.tag_id
     GROUP BY l.content_id, l.content_source;
    IF FOUND THEN
        INSERT INTO tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION content_tags_remove_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER DELETE / AFTER UPDATE ... FOR EACH STATEMENT on content_tags with
    -- the old rows as old_links: their tags' numbers are queued to leave the items'
    -- tag_nos (an update then queues the new rows' numbers, see
    -- content_tags_add_tag_nos); written at commit by content_tags_apply_tag_nos.
    -- Cost: one pass over the statement's rows, one queue row per distinct item.
    INSERT INTO tag_nos_pending (content_id, content_source, removed)
    SELECT l.content_id, l.content_source, array_agg(DISTINCT t.tag_no)
      FROM old_links l
      JOIN tags t ON t.id = l.tag_id
     GROUP BY l.content_id, l.content_source;
    IF FOUND THEN
        INSERT INTO tag_nos_pending_xact VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION content_tags_apply_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT FOR EACH ROW on tag_nos_pending_xact, DEFERRABLE INITIALLY
    -- DEFERRED: once per transaction that changed links, just before it commits (or
    -- at SET CONSTRAINTS content_tags_tag_nos_at_commit IMMEDIATE). Locks the items
    -- with queued changes in (id, source_type) order, then applies the changes: per
    -- item and tag number, the last queued change wins (a link inserted, deleted and
    -- inserted again is there); a number whose tag no longer exists is removed. Each
    -- new array is computed from the item row as it is now, so concurrent writers
    -- never lose each other's tags. Deletes what it applied.
    -- Cost: one primary-key probe and one update per item with queued changes.
    DELETE FROM tag_nos_pending_xact WHERE xact = NEW.xact;
    PERFORM 1
       FROM content_items_all i
      WHERE (i.id, i.source_type) IN (SELECT p.content_id, p.content_source
                                        FROM tag_nos_pending p WHERE p.xact = NEW.xact)
      ORDER BY i.id, i.source_type
        FOR NO KEY UPDATE OF i;
    WITH queued AS (
        DELETE FROM tag_nos_pending p WHERE p.xact = NEW.xact
        RETURNING p.seq, p.content_id, p.content_source, p.added, p.removed
    ), last_change AS (
        SELECT DISTINCT ON (q.content_id, q.content_source, c.num)
               q.content_id, q.content_source, c.num,
               c.added AND EXISTS (SELECT 1 FROM tags t WHERE t.tag_no = c.num) AS added
          FROM queued q
         CROSS JOIN LATERAL (SELECT x, true FROM unnest(q.added) AS x
                             UNION ALL
                             SELECT x, false FROM unnest(q.removed) AS x) AS c (num, added)
         ORDER BY q.content_id, q.content_source, c.num, q.seq DESC
    ), net AS (
        SELECT content_id, content_source,
               coalesce(array_agg(num) FILTER (WHERE added), '{}') AS plus,
               coalesce(array_agg(num) FILTER (WHERE NOT added), '{}') AS minus
          FROM last_change
         GROUP BY content_id, content_source
    )
    UPDATE content_items_all i
       SET tag_nos = ARRAY(SELECT DISTINCT x FROM unnest(i.tag_nos || n.plus) AS x
                            WHERE x <> ALL (n.minus) ORDER BY x)
      FROM net n
     WHERE i.id = n.content_id AND i.source_type = n.content_source;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER content_tags_tag_nos_at_commit
    AFTER INSERT ON tag_nos_pending_xact
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION content_tags_apply_tag_nos();

CREATE OR REPLACE FUNCTION content_tags_clear_tag_nos() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: AFTER TRUNCATE on content_tags: no item has tags any more, and the
    -- changes this transaction queued before the truncate are dropped.
    -- Cost: one update per item that had tags (GIN index scan).
    DELETE FROM tag_nos_pending WHERE xact = pg_current_xact_id();
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
    -- (its links are deleted after the tag, when the tag can no longer be looked up),
    -- the items locked in (id, source_type) order like content_tags_apply_tag_nos does;
    -- BEFORE UPDATE OF tag_no: a tag's number never changes (55000).
    -- Cost: delete: a GIN index scan of the tag's items, a sort, one update each.
    IF TG_OP = 'UPDATE' THEN
        IF NEW.tag_no IS DISTINCT FROM OLD.tag_no THEN
            RAISE EXCEPTION 'tags.tag_no of tag % cannot change', OLD.id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'tag_no numbers the tag in content_items_all.tag_nos';
        END IF;
        RETURN NEW;
    END IF;
    PERFORM 1 FROM content_items_all
      WHERE tag_nos @> ARRAY[OLD.tag_no]
      ORDER BY id, source_type
        FOR NO KEY UPDATE;
    UPDATE content_items_all SET tag_nos = array_remove(tag_nos, OLD.tag_no)
     WHERE tag_nos @> ARRAY[OLD.tag_no];
    RETURN OLD;
END
$$;

-- Cursor keys from a cryptographic random source (pgcrypto's gen_random_bytes)
-- instead of md5(random()): 32 bytes, 64 hex digits. pgcrypto goes into public
-- with the package, unless the database has it already (wherever it lives).
DO $migration$
DECLARE
    v_schema name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto') THEN
        CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;
        INSERT INTO gallery_schema_origin (object_name, origin) VALUES ('extension pgcrypto', 'created');
    END IF;
    SELECT n.nspname INTO v_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pgcrypto';
    EXECUTE format('ALTER TABLE gallery_config ALTER COLUMN cursor_secret'
                   ' SET DEFAULT encode(%I.gen_random_bytes(32), %L)', v_schema, 'hex');
END
$migration$;
COMMENT ON COLUMN gallery_config.cursor_secret IS
    'key that signs cursors against corruption and tampering (random, 32 bytes in hex); changing it invalidates every cursor handed out';
-- A new install (the row was written by this very transaction, whose start time
-- now() is) gets a key from the new default. An existing install keeps its key,
-- and so the cursors its clients hold; docs/operations.md says how to rotate it.
UPDATE gallery_config SET cursor_secret = DEFAULT WHERE updated_at = now();
