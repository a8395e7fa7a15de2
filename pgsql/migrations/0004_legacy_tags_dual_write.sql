-- depends: 0003_content_tags
-- Legacy tag arrays. A database adopted from the reference application keeps
-- its per-item `tags uuid[]` column. While it exists:
--   * dual write: writing an item's array keeps content_tags in step, so the old
--     application goes on working during the migration;
--   * legacy_tags_backfill is the work list of `pydeploy backfill`: chunks of
--     item ids, each marked done in the transaction that copies it, so that an
--     interrupted backfill resumes where it stopped and workers can share it.
-- Fresh databases have no such column and get neither.

DO $migration$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = 'content_items_all'::regclass AND attname = 'tags'
                      AND atttypid = 'uuid[]'::regtype AND NOT attisdropped) THEN
        RETURN;
    END IF;
    CREATE FUNCTION content_items_all_sync_legacy_tags() RETURNS trigger
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = public, pg_temp
    AS $function$
    BEGIN
        -- Contract: AFTER INSERT OR UPDATE OF tags FOR EACH ROW on content_items_all.
        -- content_tags gets exactly the distinct non-NULL elements of NEW.tags (NULL = no
        -- tags). An unknown tag id fails the write (content_tags_check_references).
        -- Cost: one delete and one insert on content_tags, proportional to the array.
        IF TG_OP = 'UPDATE' THEN
            DELETE FROM content_tags
             WHERE content_id = NEW.id AND content_source = NEW.source_type
               AND tag_id <> ALL (coalesce(NEW.tags, '{}'));
        END IF;
        INSERT INTO content_tags (content_id, content_source, tag_id)
        SELECT DISTINCT NEW.id, NEW.source_type, t
          FROM unnest(NEW.tags) AS t
         WHERE t IS NOT NULL
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $function$;
    CREATE TRIGGER content_items_all_sync_legacy_tags
        AFTER INSERT OR UPDATE OF tags ON content_items_all
        FOR EACH ROW EXECUTE FUNCTION content_items_all_sync_legacy_tags();

    CREATE TABLE legacy_tags_backfill (
        source_type  text NOT NULL CHECK (source_type IN ('items', 'auto')),
        first_id     bigint NOT NULL,
        last_id      bigint NOT NULL,
        items        bigint,
        links        bigint,
        unknown_tags bigint,
        done_at      timestamptz,
        PRIMARY KEY (source_type, first_id)
    );
    COMMENT ON TABLE legacy_tags_backfill IS
        'Work list of `pydeploy backfill` (legacy tags arrays -> content_tags): one row per chunk of item ids, done_at set in the transaction that copied it';
END
$migration$;
