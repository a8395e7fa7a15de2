CREATE OR REPLACE FUNCTION gallery.content_items_all_id_unique()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: BEFORE INSERT on content_items_all (and so on both partitions).
    -- Cost: one unique-index probe in the other partition. Raises unique_violation.
    IF EXISTS (SELECT 1 FROM public.content_items_all
                WHERE id = NEW.id AND source_type <> NEW.source_type) THEN
        RAISE EXCEPTION 'content id % already exists in the other partition', NEW.id
            USING ERRCODE = 'unique_violation',
                  HINT = 'let the id default to nextval(''content_items_all_id_seq'')';
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION gallery.content_items_all_id_unique() IS
    'Trigger: an item id is unique across both partitions';
