CREATE OR REPLACE FUNCTION gallery_page(
    tags      uuid[]  DEFAULT NULL,
    cursor    text    DEFAULT NULL,
    page_size integer DEFAULT 25,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT '{user-regular,user-auto,community-regular,community-auto}',
    viewer_id bigint  DEFAULT NULL,
    direction text    DEFAULT 'next',
    strategy  text    DEFAULT NULL)
RETURNS TABLE (id bigint, source_type text, created_at timestamptz, creator_id bigint,
               title text, content_type text, content_data text, path_thumb text,
               path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb,
               is_private boolean, quality_score double precision, updated_at timestamptz,
               row_cursor text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = public, pg_temp
SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    c_sources CONSTANT text[] :=
        '{user-regular,user-auto,community-regular,community-auto}';
    c_strategies CONSTANT text[] :=
        '{order_first,self_join,group_having,two_phase,tag_union}';
    v_started timestamptz := clock_timestamp();
    v_cfg gallery_config;
    v_tags uuid[];
    v_sources text[];
    v_hash text;
    v_after_created_at timestamptz;
    v_after_id bigint;
    v_plan record;
    v_strategy text;
    v_forward boolean;
    v_ids bigint[];
    v_item_sources text[];
BEGIN
    /*
    Contract (docs/api.md): one page of the gallery, newest first
    (created_at DESC, id DESC), of the items that carry all (match 'all') or
    any (match 'any') of the tags, in the given sources, visible to the viewer:
    others' private items never. Each row's row_cursor continues after it:
    the last row's as cursor for the next page, the first row's with
    direction 'prev' for the page before.
    strategy (not part of the public contract) forces one strategy for tests
    and benchmarks; NULL lets gallery_plan choose.
    Errors (SQLSTATE 22023 invalid_parameter_value, message naming the
    parameter, with a HINT): page_size outside 1..100; match, direction,
    strategy or a source not one of the allowed words; NULL or empty sources;
    a NULL tag; more distinct tags than gallery_config.max_tags; a user-*
    source without viewer_id; direction 'prev' without a cursor; a cursor that
    is not ours, altered, from another version or for other filters.
    Unknown tag ids are not errors: under 'all' they match nothing, under
    'any' they add nothing.
    Cost: the chosen strategy's (see each strategy's header), plus one
    primary-key lookup per returned row; a sampled telemetry insert.
    */
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 100, got %', coalesce(page_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass page_size => 25, for example';
    END IF;
    IF match IS NULL OR match NOT IN ('all', 'any') THEN
        RAISE EXCEPTION 'match must be ''all'' or ''any'', got %', coalesce(quote_literal(match), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'all: items with every tag; any: items with at least one';
    END IF;
    IF direction IS NULL OR direction NOT IN ('next', 'prev') THEN
        RAISE EXCEPTION 'direction must be ''next'' or ''prev'', got %',
                        coalesce(quote_literal(direction), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'next: older items after the cursor; prev: the page before it';
    END IF;
    IF direction = 'prev' AND cursor IS NULL THEN
        RAISE EXCEPTION 'direction ''prev'' needs a cursor'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass the first row''s row_cursor of the page you are on';
    END IF;
    IF sources IS NULL OR cardinality(sources) = 0 THEN
        RAISE EXCEPTION 'sources must name at least one source'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('sources are %s', array_to_string(c_sources, ', '));
    END IF;
    IF NOT sources <@ c_sources OR array_position(sources, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'sources contains %, which is not a source',
            (SELECT coalesce(quote_literal(s), 'NULL') FROM unnest(sources) AS s
              WHERE s IS NULL OR NOT s = ANY (c_sources) LIMIT 1)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('sources are %s', array_to_string(c_sources, ', '));
    END IF;
    IF viewer_id IS NULL AND sources && '{user-regular,user-auto}'::text[] THEN
        RAISE EXCEPTION 'sources user-regular and user-auto need viewer_id'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass viewer_id, or sources => ''{community-regular,community-auto}'' for anonymous browsing';
    END IF;
    IF array_position(tags, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'tags must not contain NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass tag ids only, or tags => NULL for no tag filter';
    END IF;
    IF strategy IS NOT NULL AND NOT strategy = ANY (c_strategies) THEN
        RAISE EXCEPTION 'strategy must be one of %, got %', array_to_string(c_strategies, ', '),
                        quote_literal(strategy)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'or strategy => NULL to let the planner choose';
    END IF;
    SELECT * INTO v_cfg FROM gallery_config;
    SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}') INTO v_tags FROM unnest(tags) AS t;
    IF cardinality(v_tags) > v_cfg.max_tags THEN
        RAISE EXCEPTION 'tags has % distinct tags, more than the % allowed', cardinality(v_tags), v_cfg.max_tags
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'narrow the filter, or raise gallery_config.max_tags';
    END IF;
    IF strategy IN ('self_join', 'group_having', 'two_phase') AND match = 'any'
       OR strategy = 'tag_union' AND match = 'all' THEN
        RAISE EXCEPTION 'strategy % does not implement match %', strategy, quote_literal(match)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'match any: order_first or tag_union; match all: any other';
    END IF;
    IF strategy IN ('self_join', 'group_having', 'two_phase', 'tag_union') AND cardinality(v_tags) = 0 THEN
        RAISE EXCEPTION 'strategy % needs tags', strategy
            USING ERRCODE = 'invalid_parameter_value', HINT = 'without tags only order_first applies';
    END IF;
    SELECT array_agg(DISTINCT s ORDER BY s) INTO v_sources FROM unnest(sources) AS s;
    PERFORM set_config('work_mem', v_cfg.max_work_mem_mb || 'MB', true);  -- this call only

    -- the cursor belongs to exactly these normalised filters
    v_hash := left(encode(sha256(convert_to(concat_ws('|', array_to_string(v_tags, ','), match,
                  array_to_string(v_sources, ','), viewer_id), 'UTF8')), 'hex'), 16);
    IF cursor IS NOT NULL THEN
        SELECT r.after_created_at, r.after_id INTO v_after_created_at, v_after_id
          FROM _gallery_cursor_read(cursor, v_hash, v_cfg.cursor_secret) AS r;
    END IF;
    v_forward := direction = 'next';

    SELECT * INTO v_plan FROM gallery_plan(v_tags, match, v_sources, viewer_id, page_size);
    v_strategy := coalesce(strategy, v_plan.strategy);

    SELECT array_agg(p.item_id ORDER BY p.n), array_agg(p.item_source ORDER BY p.n)
      INTO v_ids, v_item_sources
      FROM (SELECT s.item_id, s.item_source, s.n
              FROM _gallery_order_first(v_tags, match, v_sources, viewer_id,
                       v_after_created_at, v_after_id, v_forward, page_size)
                   WITH ORDINALITY AS s(item_id, item_source, item_created_at, n)
             WHERE v_strategy = 'order_first'
            UNION ALL
            SELECT s.item_id, s.item_source, s.n
              FROM _gallery_self_join(v_plan.tag_ids, v_sources, viewer_id,
                       v_after_created_at, v_after_id, v_forward, page_size)
                   WITH ORDINALITY AS s(item_id, item_source, item_created_at, n)
             WHERE v_strategy = 'self_join'
            UNION ALL
            SELECT s.item_id, s.item_source, s.n
              FROM _gallery_group_having(v_tags, v_sources, viewer_id,
                       v_after_created_at, v_after_id, v_forward, page_size)
                   WITH ORDINALITY AS s(item_id, item_source, item_created_at, n)
             WHERE v_strategy = 'group_having'
            UNION ALL
            SELECT s.item_id, s.item_source, s.n
              FROM _gallery_two_phase(v_plan.tag_ids, v_sources, viewer_id,
                       v_after_created_at, v_after_id, v_forward, page_size,
                       coalesce(v_plan.seed_tags, v_plan.tag_ids[1:1]))
                   WITH ORDINALITY AS s(item_id, item_source, item_created_at, n)
             WHERE v_strategy = 'two_phase'
            UNION ALL
            SELECT s.item_id, s.item_source, s.n
              FROM _gallery_tag_union(v_tags, v_sources, viewer_id,
                       v_after_created_at, v_after_id, v_forward, page_size)
                   WITH ORDINALITY AS s(item_id, item_source, item_created_at, n)
             WHERE v_strategy = 'tag_union') AS p;

    RETURN QUERY
    SELECT i.id::bigint, i.source_type::text, i.created_at::timestamptz, i.creator_id::bigint,
           i.title::text, i.content_type::text, i.content_data::text, i.path_thumb::text,
           i.path_thumbs_alt_res::jsonb, i.prompt::text, i.item_metadata::jsonb,
           i.is_private, i.quality_score::double precision, i.updated_at::timestamptz,
           _gallery_cursor_make(i.created_at, i.id, v_hash, v_cfg.cursor_secret)
      FROM unnest(v_ids, v_item_sources) WITH ORDINALITY AS k(item_id, item_source, n)
      JOIN content_items_all i ON i.id = k.item_id AND i.source_type = k.item_source
     ORDER BY CASE WHEN v_forward THEN k.n ELSE -k.n END;

    IF random() < v_cfg.telemetry_sample_rate THEN
        BEGIN
            INSERT INTO gallery_telemetry (strategy, forced, k, match, sources, rarest_count,
                                           estimated_candidates, rows_returned, duration_ms)
            VALUES (v_strategy, strategy IS NOT NULL, cardinality(v_tags), match, v_sources,
                    v_plan.rarest_count, v_plan.estimated_candidates,
                    coalesce(cardinality(v_ids), 0),
                    extract(epoch FROM clock_timestamp() - v_started) * 1000);
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- telemetry never fails a page
        END;
    END IF;
END
$$;

COMMENT ON FUNCTION gallery_page(uuid[], text, integer, text, text[], bigint, text, text) IS
    'One page of the gallery: tag filter (all/any), sources, viewer, keyset cursor. See docs/api.md';
