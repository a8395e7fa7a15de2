-- Detach the partitions and drop the parent; tables this package created are
-- dropped, adopted tables get back exactly what adoption changed.
DROP TRIGGER content_items_all_key_immutable ON content_items_all;
DROP FUNCTION content_items_all_key_immutable();
DROP TRIGGER content_items_all_id_unique ON content_items_all;
DROP FUNCTION content_items_all_id_unique();

DO $rollback$
DECLARE
    v_origin record;
    v_name text;
BEGIN
    ALTER TABLE content_items_all DETACH PARTITION content_items;
    ALTER TABLE content_items_all DETACH PARTITION content_items_auto;
    -- The shared sequence goes with the parent: give adopted ids their old default first.
    FOR v_origin IN SELECT * FROM gallery_schema_origin
                     WHERE object_name IN ('content_items', 'content_items_auto')
    LOOP
        IF v_origin.origin = 'adopted' AND v_origin.detail->>'id_default' IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN id SET DEFAULT %s',
                           v_origin.object_name, v_origin.detail->>'id_default');
        ELSE
            EXECUTE format('ALTER TABLE %I ALTER COLUMN id DROP DEFAULT', v_origin.object_name);
        END IF;
    END LOOP;
    DROP TABLE content_items_all;

    FOR v_origin IN SELECT * FROM gallery_schema_origin
                     WHERE object_name IN ('content_items_more', 'content_items_auto_more',
                                           'content_items', 'content_items_auto')
                     ORDER BY object_name LIKE '%_more' DESC
    LOOP
        IF v_origin.origin = 'created' THEN
            EXECUTE format('DROP TABLE %I', v_origin.object_name);
            CONTINUE;
        END IF;
        FOR v_name IN SELECT jsonb_array_elements_text(v_origin.detail->'created_indexes') LOOP
            EXECUTE format('DROP INDEX IF EXISTS %I', v_name);
        END LOOP;
        FOR v_name IN SELECT jsonb_array_elements_text(v_origin.detail->'not_null_set') LOOP
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP NOT NULL',
                           v_origin.object_name, v_name);
        END LOOP;
        FOR v_name IN SELECT jsonb_array_elements_text(v_origin.detail->'added_columns') LOOP
            EXECUTE format('ALTER TABLE %I DROP COLUMN %I', v_origin.object_name, v_name);
        END LOOP;
    END LOOP;
    DELETE FROM gallery_schema_origin
     WHERE object_name IN ('content_items_more', 'content_items_auto_more',
                           'content_items', 'content_items_auto');
END
$rollback$;
