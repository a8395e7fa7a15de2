CREATE OR REPLACE FUNCTION gallery.gallery_cache_touch()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- writers need no right on gallery_cache_versions
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    c_every_item CONSTANT uuid := '00000000-0000-0000-0000-000000000000';
    v_keys uuid[];
BEGIN
    /*
    Contract: the page cache's write triggers (migration 0014), in the writer's
    transaction: bump the versions (gallery_cache_versions) of what the
    statement changed, so that no cached page read before the write is served
    once it has committed (gallery_page compares an entry's versions with the
    current ones; a rollback undoes the bump):
      - content_tags, AFTER INSERT / DELETE / UPDATE FOR EACH STATEMENT, rows as
        new_links / old_links: the links' tags;
      - content_items_all, AFTER INSERT OR DELETE FOR EACH STATEMENT: "every
        item" (the nil uuid: pages without a tag filter; an item's links are
        inserted and deleted in content_tags, whose trigger bumps their tags);
      - content_items_all, AFTER UPDATE FOR EACH ROW of a column a page shows or
        filters on (the trigger's WHEN): every item, and the item's tags.
    Writers never wait for each other here: each bumps the rows of a slot
    (0..63) it holds a transaction advisory lock on, (1734437996, slot),
    taking the first free one (or one it holds already), so a row is only ever
    updated by the one transaction holding its slot. Past 64 concurrent
    writers the next one waits for slot 0.
    Cost: one pass over the statement's rows (an updated item: a read of its
    links), a few advisory lock tries, one upsert per distinct key.
    */
    IF TG_TABLE_NAME = 'content_tags' THEN
        IF TG_OP = 'INSERT' THEN
            v_keys := ARRAY(SELECT DISTINCT n.tag_id FROM new_links n);
        ELSIF TG_OP = 'DELETE' THEN
            v_keys := ARRAY(SELECT DISTINCT o.tag_id FROM old_links o);
        ELSE
            v_keys := ARRAY(SELECT o.tag_id FROM old_links o UNION SELECT n.tag_id FROM new_links n);
        END IF;
    ELSIF TG_LEVEL = 'ROW' THEN
        v_keys := ARRAY(SELECT DISTINCT ct.tag_id FROM public.content_tags ct
                         WHERE ct.content_id = NEW.id AND ct.content_source = NEW.source_type)
                  || c_every_item;
    ELSE
        v_keys := ARRAY[c_every_item];
    END IF;
    IF cardinality(v_keys) > 0 THEN
        INSERT INTO public.gallery_cache_versions AS v (key, slot, version)
        SELECT k.key, s.slot, 1
          FROM unnest(v_keys) AS k (key),
               (SELECT coalesce((SELECT n FROM generate_series(0, 63) AS n
                                  WHERE pg_try_advisory_xact_lock(1734437996, n) LIMIT 1),
                                (SELECT 0 FROM pg_advisory_xact_lock(1734437996, 0))) AS slot) AS s
            ON CONFLICT (key, slot) DO UPDATE SET version = v.version + 1;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.gallery_cache_touch() IS
    'Trigger: bump the page cache''s versions of what a write changed (tags; every item)';
