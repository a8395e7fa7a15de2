-- depends: 0001_users_and_tags
-- content_items_all: one logical table, LIST-partitioned by source_type into
-- content_items ('items') and content_items_auto ('auto'), plus the sidecars.
--
-- Fresh database: both partitions are created empty, with their keys and indexes.
--
-- Database of the reference application: its two plain tables are adopted in
-- place, no row copied or rewritten. `pydeploy apply` first prepares them online
-- (pydeploy/adoption.py: source_type column, validated CHECKs proving the
-- partition constraint and NOT NULLs, indexes built CONCURRENTLY), so that
-- this migration, inside apply's one transaction, only does catalog work:
--   * core columns still missing are added with constant defaults, and columns
--     only one table has are added, nullable, to the other (partitions need the
--     parent's exact columns);
--   * NOT NULL is set where the parent needs it, using the validated proofs;
--   * ATTACH PARTITION finds the partition constraint proven and the indexes there.
-- Every change made to an adopted table is recorded in gallery_schema_origin,
-- and the rollback undoes exactly those.

-- Appends one change made to an adopted table to its gallery_schema_origin record.
CREATE FUNCTION pg_temp.record_adoption_change(p_table text, p_key text, p_value text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
    UPDATE gallery_schema_origin
       SET detail = jsonb_set(detail, ARRAY[p_key], detail -> p_key || to_jsonb(p_value))
     WHERE object_name = p_table AND origin = 'adopted'
$$;

DO $migration$
DECLARE
    v_part record;
    v_col record;
    v_other text;
    v_id_type text;
    v_columns text;
    v_max_id bigint;
BEGIN
    FOR v_part IN SELECT * FROM (VALUES ('content_items', 'items'),
                                        ('content_items_auto', 'auto')) AS p(tbl, src)
    LOOP
        IF to_regclass(v_part.tbl) IS NULL THEN
            EXECUTE format($ddl$
                CREATE TABLE %1$I (
                    id                  bigint PRIMARY KEY,
                    title               text,
                    content_type        text,
                    content_data        text,
                    path_thumb          text,
                    path_thumbs_alt_res jsonb,
                    prompt              text,
                    creator_id          bigint NOT NULL REFERENCES users (id),
                    item_metadata       jsonb,
                    is_private          boolean NOT NULL DEFAULT false,
                    quality_score       double precision,
                    created_at          timestamptz NOT NULL DEFAULT now(),
                    updated_at          timestamptz NOT NULL DEFAULT now(),
                    source_type         text NOT NULL DEFAULT %2$L
                        CONSTRAINT %3$I CHECK (source_type = %2$L)
                )$ddl$, v_part.tbl, v_part.src, v_part.tbl || '_partition_check');
            EXECUTE format('CREATE INDEX %I ON %I (created_at DESC, id DESC)',
                           v_part.tbl || '_created_at_id_idx', v_part.tbl);
            INSERT INTO gallery_schema_origin VALUES (v_part.tbl, 'created');
            CONTINUE;
        END IF;

        -- Adopted: what the online preparation did, and the catalog-only rest.
        IF NOT EXISTS (SELECT 1 FROM pg_constraint
                        WHERE conrelid = v_part.tbl::regclass AND convalidated
                          AND conname = v_part.tbl || '_partition_check') THEN
            RAISE EXCEPTION '% is not prepared for adoption', v_part.tbl
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'run `pydeploy apply`: it validates the partition constraint online first';
        END IF;
        INSERT INTO gallery_schema_origin VALUES (v_part.tbl, 'adopted',
            jsonb_build_object(
                'added_columns', (SELECT coalesce(jsonb_agg(a.attname), '[]')
                                    FROM pg_attribute a
                                   WHERE a.attrelid = v_part.tbl::regclass AND a.attnum > 0
                                     AND col_description(a.attrelid, a.attnum)
                                         = 'gallery adoption: added'),
                'created_indexes', (SELECT coalesce(jsonb_agg(c.relname), '[]')
                                      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                                     WHERE i.indrelid = v_part.tbl::regclass
                                       AND obj_description(c.oid, 'pg_class')
                                           = 'gallery adoption: added'),
                'not_null_set', '[]'::jsonb));

        FOR v_col IN
            SELECT * FROM (VALUES
                ('id', NULL), ('creator_id', NULL),
                ('title', 'text'), ('content_type', 'text'), ('content_data', 'text'),
                ('path_thumb', 'text'), ('path_thumbs_alt_res', 'jsonb'), ('prompt', 'text'),
                ('item_metadata', 'jsonb'),
                ('is_private', 'boolean NOT NULL DEFAULT false'),
                ('quality_score', 'double precision'),
                ('created_at', 'timestamptz NOT NULL DEFAULT now()'),
                ('updated_at', 'timestamptz DEFAULT now()')
            ) AS c(name, definition)
        LOOP
            CONTINUE WHEN EXISTS (SELECT 1 FROM pg_attribute
                                   WHERE attrelid = v_part.tbl::regclass
                                     AND attname = v_col.name AND NOT attisdropped);
            IF v_col.definition IS NULL THEN
                RAISE EXCEPTION 'table % has no % column', v_part.tbl, v_col.name
                    USING ERRCODE = 'invalid_table_definition',
                          HINT = 'content_items and content_items_auto need id and creator_id';
            END IF;
            EXECUTE format('ALTER TABLE %I ADD COLUMN %I %s',
                           v_part.tbl, v_col.name, v_col.definition);
            PERFORM pg_temp.record_adoption_change(v_part.tbl, 'added_columns', v_col.name);
        END LOOP;

        -- NOT NULL from the validated proofs (no scan), then the proofs go.
        FOR v_col IN
            SELECT a.attname, con.conname FROM pg_attribute a
              JOIN pg_constraint con ON con.conrelid = a.attrelid AND con.convalidated
                                    AND con.conname = v_part.tbl || '_' || a.attname || '_not_null'
             WHERE a.attrelid = v_part.tbl::regclass AND NOT a.attnotnull
        LOOP
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET NOT NULL', v_part.tbl, v_col.attname);
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', v_part.tbl, v_col.conname);
            PERFORM pg_temp.record_adoption_change(v_part.tbl, 'not_null_set', v_col.attname);
        END LOOP;
    END LOOP;

    -- Columns only one of the tables has (the legacy tags array, for one) go, nullable,
    -- on the other. Same name, different types: stop, nothing is changed.
    FOR v_part IN SELECT * FROM (VALUES ('content_items', 'content_items_auto'),
                                        ('content_items_auto', 'content_items')) AS p(tbl, other)
    LOOP
        FOR v_col IN
            SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS coltype
              FROM pg_attribute a
             WHERE a.attrelid = v_part.tbl::regclass AND a.attnum > 0 AND NOT a.attisdropped
        LOOP
            SELECT format_type(b.atttypid, b.atttypmod) INTO v_other
              FROM pg_attribute b
             WHERE b.attrelid = v_part.other::regclass AND b.attname = v_col.attname
               AND NOT b.attisdropped;
            IF NOT FOUND THEN
                EXECUTE format('ALTER TABLE %I ADD COLUMN %I %s',
                               v_part.other, v_col.attname, v_col.coltype);
                PERFORM pg_temp.record_adoption_change(v_part.other, 'added_columns',
                                                       v_col.attname);
            ELSIF v_other <> v_col.coltype THEN
                RAISE EXCEPTION 'column %.% is % but %.% is %',
                    v_part.tbl, v_col.attname, v_col.coltype,
                    v_part.other, v_col.attname, v_other
                    USING ERRCODE = 'datatype_mismatch',
                          HINT = 'partitions need identical column types: align them first';
            END IF;
        END LOOP;
    END LOOP;

    SELECT format_type(atttypid, atttypmod) INTO v_id_type
      FROM pg_attribute WHERE attrelid = 'content_items'::regclass AND attname = 'id';
    IF v_id_type NOT IN ('integer', 'bigint') THEN
        RAISE EXCEPTION 'content_items.id is %, not integer or bigint', v_id_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'the gallery pages by (created_at, id) with an integer id';
    END IF;

    -- One id sequence for both partitions, past every id in use.
    EXECUTE format('CREATE SEQUENCE content_items_all_id_seq AS %s', v_id_type);
    SELECT greatest((SELECT max(id) FROM content_items), (SELECT max(id) FROM content_items_auto))
      INTO v_max_id;
    PERFORM setval('content_items_all_id_seq', coalesce(v_max_id, 0) + 1, false);
    FOR v_part IN SELECT * FROM (VALUES ('content_items'), ('content_items_auto')) AS p(tbl)
    LOOP
        UPDATE gallery_schema_origin
           SET detail = jsonb_set(detail, '{id_default}',
                                  coalesce(to_jsonb(pg_get_expr(d.adbin, d.adrelid)), 'null'))
          FROM pg_attribute a
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = v_part.tbl::regclass AND a.attname = 'id'
           AND object_name = v_part.tbl AND origin = 'adopted';
        EXECUTE format($ddl$ALTER TABLE %I ALTER COLUMN id
                             SET DEFAULT nextval('content_items_all_id_seq')$ddl$, v_part.tbl);
    END LOOP;

    -- The parent, with content_items' columns, then ATTACH.
    SELECT string_agg(
               format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                      CASE WHEN a.attname IN ('id', 'creator_id', 'is_private', 'created_at',
                                              'source_type') THEN ' NOT NULL' ELSE '' END),
               ', ' ORDER BY a.attnum)
      INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = 'content_items'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('CREATE TABLE content_items_all (%s) PARTITION BY LIST (source_type)',
                   v_columns);

    -- Writes go through the parent, where the partitions' defaults do not apply:
    -- give it the defaults both tables agree on, then the core ones still missing.
    FOR v_col IN
        SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) AS expr
          FROM pg_attribute a
          JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          JOIN pg_attribute b ON b.attrelid = 'content_items_auto'::regclass
                             AND b.attname = a.attname
          JOIN pg_attrdef e ON e.adrelid = b.attrelid AND e.adnum = b.attnum
         WHERE a.attrelid = 'content_items'::regclass
           AND a.attname NOT IN ('id', 'source_type')
           AND pg_get_expr(d.adbin, d.adrelid) = pg_get_expr(e.adbin, e.adrelid)
    LOOP
        EXECUTE format('ALTER TABLE content_items_all ALTER COLUMN %I SET DEFAULT %s',
                       v_col.attname, v_col.expr);
    END LOOP;
    ALTER TABLE content_items_all ALTER COLUMN id SET DEFAULT nextval('content_items_all_id_seq');
    FOR v_col IN
        SELECT * FROM (VALUES ('is_private', 'false'), ('created_at', 'now()'),
                              ('updated_at', 'now()')) AS c(attname, expr)
         WHERE NOT EXISTS (SELECT 1 FROM pg_attrdef
                            WHERE adrelid = 'content_items_all'::regclass
                              AND adnum = (SELECT attnum FROM pg_attribute
                                            WHERE attrelid = 'content_items_all'::regclass
                                              AND attname = c.attname))
    LOOP
        EXECUTE format('ALTER TABLE content_items_all ALTER COLUMN %I SET DEFAULT %s',
                       v_col.attname, v_col.expr);
    END LOOP;
    ALTER SEQUENCE content_items_all_id_seq OWNED BY content_items_all.id;

    ALTER TABLE content_items_all ATTACH PARTITION content_items FOR VALUES IN ('items');
    ALTER TABLE content_items_all ATTACH PARTITION content_items_auto FOR VALUES IN ('auto');
    ALTER TABLE content_items DROP CONSTRAINT content_items_partition_check;
    ALTER TABLE content_items_auto DROP CONSTRAINT content_items_auto_partition_check;
END
$migration$;

COMMENT ON TABLE content_items_all IS
    'All gallery items: LIST-partitioned by source_type into content_items (items) and content_items_auto (auto). Write through this table.';

-- Keyset order of every gallery page: attaches the partitions' indexes, builds none.
CREATE INDEX content_items_all_created_at_id_idx ON content_items_all (created_at DESC, id DESC);

-- Ids are unique across partitions: the shared sequence hands out distinct ids, and
-- this trigger rejects an explicit id that the other partition already has.
CREATE FUNCTION content_items_all_id_unique() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE INSERT on content_items_all (and so on both partitions).
    -- Cost: one unique-index probe in the other partition. Raises unique_violation.
    IF EXISTS (SELECT 1 FROM content_items_all
                WHERE id = NEW.id AND source_type <> NEW.source_type) THEN
        RAISE EXCEPTION 'content id % already exists in the other partition', NEW.id
            USING ERRCODE = 'unique_violation',
                  HINT = 'let the id default to nextval(''content_items_all_id_seq'')';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER content_items_all_id_unique
    BEFORE INSERT ON content_items_all
    FOR EACH ROW EXECUTE FUNCTION content_items_all_id_unique();

-- An item keeps its id and source for life: tag links, sidecars and cursors name it so.
CREATE FUNCTION content_items_all_key_immutable() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE UPDATE OF id, source_type on content_items_all. Cost: none.
    -- Raises feature_not_supported when either changes.
    IF NEW.id <> OLD.id OR NEW.source_type <> OLD.source_type THEN
        RAISE EXCEPTION 'cannot change id or source_type of content item %', OLD.id
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'insert a new item (and its tags) and delete the old one';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER content_items_all_key_immutable
    BEFORE UPDATE OF id, source_type ON content_items_all
    FOR EACH ROW EXECUTE FUNCTION content_items_all_key_immutable();

-- Sidecars: per-subtype extras kept off the gallery's hot path (seed Proposal 11).
DO $migration$
DECLARE
    v_part record;
BEGIN
    FOR v_part IN SELECT * FROM (VALUES ('content_items'), ('content_items_auto')) AS p(tbl)
    LOOP
        CONTINUE WHEN to_regclass(v_part.tbl || '_more') IS NOT NULL;
        EXECUTE format($ddl$
            CREATE TABLE %1$I (
                source_table  text NOT NULL DEFAULT %2$L,
                source_id     %3$s PRIMARY KEY REFERENCES %2$I (id) ON DELETE CASCADE,
                metadata_more jsonb NOT NULL DEFAULT '{}'
            )$ddl$, v_part.tbl || '_more', v_part.tbl,
            format_type((SELECT atttypid FROM pg_attribute
                          WHERE attrelid = v_part.tbl::regclass AND attname = 'id'), NULL));
        INSERT INTO gallery_schema_origin VALUES (v_part.tbl || '_more', 'created');
    END LOOP;
END
$migration$;
