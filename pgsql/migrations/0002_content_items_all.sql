-- depends: 0001_users_and_tags
-- content_items_all: one logical table, LIST-partitioned by source_type into
-- content_items ('items') and content_items_auto ('auto'), plus the sidecars.
--
-- On a fresh database the two partitions are created empty. On a database of
-- the reference application, its two plain tables are adopted in place: no row
-- is copied or rewritten and no exclusive lock is held for a scan.
--   1. missing core columns are added with constant defaults (catalog-only);
--      columns only one table has are added, nullable, to the other;
--   2. NOT NULL where the parent needs it, and the partition constraint
--      (source_type = 'items' / 'auto'), are first added as NOT VALID CHECKs and
--      VALIDATEd: a scan under SHARE UPDATE EXCLUSIVE, reads and writes go on;
--   3. missing indexes (unique id, keyset order) are built under SHARE (reads go on);
--   4. ATTACH PARTITION then finds the constraint proven and the indexes in place:
--      it takes ACCESS EXCLUSIVE on the table only for catalog work.
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
    v_detail jsonb;
    v_id_type text;
    v_index text;
    v_columns text;
    v_max_id bigint;
BEGIN
    -- Fresh databases: create the two tables in the reference layout, then adopt them
    -- exactly like a reference database's, so both paths run the same code.
    FOR v_part IN SELECT * FROM (VALUES ('content_items', 'items'),
                                        ('content_items_auto', 'auto')) AS p(tbl, src)
    LOOP
        IF to_regclass(v_part.tbl) IS NULL THEN
            EXECUTE format($ddl$
                CREATE TABLE %I (
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
                    source_type         text NOT NULL DEFAULT %L
                )$ddl$, v_part.tbl, v_part.src);
            INSERT INTO gallery_schema_origin VALUES (v_part.tbl, 'created');
        ELSE
            INSERT INTO gallery_schema_origin VALUES (v_part.tbl, 'adopted',
                jsonb_build_object('added_columns', '[]'::jsonb, 'not_null_set', '[]'::jsonb,
                                   'created_indexes', '[]'::jsonb));
        END IF;
    END LOOP;

    -- 1. Core columns every partition needs. id and creator_id cannot be invented.
    FOR v_part IN SELECT * FROM (VALUES ('content_items', 'items'),
                                        ('content_items_auto', 'auto')) AS p(tbl, src)
    LOOP
        FOR v_col IN
            SELECT * FROM (VALUES
                ('id', NULL), ('creator_id', NULL),
                ('title', 'text'), ('content_type', 'text'), ('content_data', 'text'),
                ('path_thumb', 'text'), ('path_thumbs_alt_res', 'jsonb'), ('prompt', 'text'),
                ('item_metadata', 'jsonb'),
                ('is_private', 'boolean NOT NULL DEFAULT false'),
                ('quality_score', 'double precision'),
                ('created_at', 'timestamptz NOT NULL DEFAULT now()'),
                ('updated_at', 'timestamptz NOT NULL DEFAULT now()'),
                ('source_type', format('text NOT NULL DEFAULT %L', v_part.src))
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
    END LOOP;

    -- Columns only one of the tables has (the legacy tags array, for one) go, nullable,
    -- on the other: partitions must have the same columns as their parent.
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
                PERFORM pg_temp.record_adoption_change(v_part.other, 'added_columns', v_col.attname);
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

    FOR v_part IN SELECT * FROM (VALUES ('content_items', 'items'),
                                        ('content_items_auto', 'auto')) AS p(tbl, src)
    LOOP
        -- 2. NOT NULL and the partition constraint, proven by validated CHECKs.
        FOR v_col IN
            SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = v_part.tbl::regclass AND NOT a.attnotnull
               AND a.attname IN ('id', 'creator_id', 'is_private', 'created_at', 'source_type')
        LOOP
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID',
                           v_part.tbl, v_part.tbl || '_' || v_col.attname || '_not_null',
                           v_col.attname);
            EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I',
                           v_part.tbl, v_part.tbl || '_' || v_col.attname || '_not_null');
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET NOT NULL',
                           v_part.tbl, v_col.attname);
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I',
                           v_part.tbl, v_part.tbl || '_' || v_col.attname || '_not_null');
            PERFORM pg_temp.record_adoption_change(v_part.tbl, 'not_null_set', v_col.attname);
        END LOOP;
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (source_type = %L) NOT VALID',
                       v_part.tbl, v_part.tbl || '_partition_check', v_part.src);
        EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I',
                       v_part.tbl, v_part.tbl || '_partition_check');

        -- 3. Indexes: a unique id (ids are unique across partitions too, see the trigger
        -- below) and the keyset order (created_at DESC, id DESC). Existing ones are kept.
        IF NOT EXISTS (
            SELECT 1 FROM pg_index i
             WHERE i.indrelid = v_part.tbl::regclass AND i.indisunique AND i.indisvalid
               AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 1
               AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                   WHERE attrelid = v_part.tbl::regclass AND attname = 'id'))
        THEN
            v_index := v_part.tbl || '_id_key';
            EXECUTE format('CREATE UNIQUE INDEX %I ON %I (id)', v_index, v_part.tbl);
            PERFORM pg_temp.record_adoption_change(v_part.tbl, 'created_indexes', v_index);
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM pg_index i
             WHERE i.indrelid = v_part.tbl::regclass AND i.indisvalid
               AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 2
               AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                   WHERE attrelid = v_part.tbl::regclass
                                     AND attname = 'created_at')
               AND i.indkey[1] = (SELECT attnum FROM pg_attribute
                                   WHERE attrelid = v_part.tbl::regclass AND attname = 'id')
               AND i.indoption[0] = 3 AND i.indoption[1] = 3  -- DESC (NULLS FIRST)
               AND (SELECT amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam
                     WHERE c.oid = i.indexrelid) = 'btree')
        THEN
            v_index := v_part.tbl || '_created_at_id_idx';
            EXECUTE format('CREATE INDEX %I ON %I (created_at DESC, id DESC)',
                           v_index, v_part.tbl);
            PERFORM pg_temp.record_adoption_change(v_part.tbl, 'created_indexes', v_index);
        END IF;
    END LOOP;

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

    -- 4. The parent, with content_items' columns, then ATTACH.
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
BEGIN
    IF to_regclass('content_items_more') IS NULL THEN
        EXECUTE format($ddl$
            CREATE TABLE content_items_more (
                source_table  text NOT NULL DEFAULT 'content_items',
                source_id     %s PRIMARY KEY REFERENCES content_items (id) ON DELETE CASCADE,
                metadata_more jsonb NOT NULL DEFAULT '{}'
            )$ddl$, format_type((SELECT atttypid FROM pg_attribute
                                  WHERE attrelid = 'content_items'::regclass
                                    AND attname = 'id'), NULL));
        INSERT INTO gallery_schema_origin VALUES ('content_items_more', 'created');
    END IF;
    IF to_regclass('content_items_auto_more') IS NULL THEN
        EXECUTE format($ddl$
            CREATE TABLE content_items_auto_more (
                source_table  text NOT NULL DEFAULT 'content_items_auto',
                source_id     %s PRIMARY KEY REFERENCES content_items_auto (id) ON DELETE CASCADE,
                metadata_more jsonb NOT NULL DEFAULT '{}'
            )$ddl$, format_type((SELECT atttypid FROM pg_attribute
                                  WHERE attrelid = 'content_items_auto'::regclass
                                    AND attname = 'id'), NULL));
        INSERT INTO gallery_schema_origin VALUES ('content_items_auto_more', 'created');
    END IF;
END
$migration$;
