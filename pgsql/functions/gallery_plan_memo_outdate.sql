CREATE OR REPLACE FUNCTION gallery.gallery_plan_memo_outdate()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER  -- writers need no right on the plan memo's sequence
SET search_path = pg_catalog, gallery, pg_temp
AS $$
BEGIN
    -- Contract: AFTER INSERT, UPDATE, DELETE and TRUNCATE FOR EACH STATEMENT on tags,
    -- tag_cardinality_stats and tag_pair_stats: no plan gallery_page kept before
    -- (gallery_plan_memo) is used after, in any session. A nextval, not transactional: a
    -- plan made in between with what the writer had not yet committed can only be slower
    -- (statistics), or is not kept (a tag it names did not exist yet); a deleted tag's
    -- number, if kept, no longer matches any item.
    -- Cost: one nextval.
    PERFORM nextval('public.gallery_plan_generation');
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION gallery.gallery_plan_memo_outdate() IS
    'Trigger: plans gallery_page kept before a write to tags or the planner''s statistics are not used after it';
