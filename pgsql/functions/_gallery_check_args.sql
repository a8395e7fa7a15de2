CREATE OR REPLACE FUNCTION gallery._gallery_check_args(
    p_tags uuid[], p_match text, p_sources text[], p_viewer_id bigint, p_page_size integer,
    p_strategy text, p_strategy_param text, p_max_tags integer)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
DECLARE
    c_sources CONSTANT text[] :=
        '{user-regular,user-auto,community-regular,community-auto}'::text[];
    -- elements of tags, duplicates included, checked before any de-duplication
    c_max_tag_elements CONSTANT integer := 1000;
    v_distinct bigint;
    v_strategy record;  -- p_strategy's row of the catalogue (_gallery_strategies)
    -- NULL: every source this caller may see
    v_sources text[] := coalesce(p_sources, ARRAY(
        SELECT s FROM unnest(c_sources) AS s WHERE p_viewer_id IS NOT NULL OR s LIKE 'community-%'));
BEGIN
    /*
    Contract: the one place where the filter arguments of gallery_page and
    gallery_plan are checked, so that both accept and refuse the same calls.
    Raises invalid_parameter_value (22023) with a message naming the parameter
    and a HINT: page_size NULL or outside 1..100; match not 'all'/'any';
    sources empty, not one-dimensional, or holding NULL or an unknown
    source; a user-* source without viewer_id; tags not one-dimensional,
    holding NULL, more than 1000 elements (duplicates included: refused before
    any de-duplication) or more than p_max_tags distinct tags; a strategy
    (named p_strategy_param in the messages) that is unknown, does not
    implement the match, or needs tags: all three read from the catalogue
    (_gallery_strategies), which their messages and HINTs list.
    Returns the sources to serve, distinct and sorted: sources NULL means
    every source this caller may see (all four with viewer_id, the
    community-* ones without).
    Cost: a few comparisons (and, for a forced strategy, a read of the
    catalogue's few constant rows); one de-duplication of at most 1000 elements, only
    when tags has more elements than p_max_tags.
    */
    IF p_page_size IS NULL OR p_page_size NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 100, got %', coalesce(p_page_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass page_size => 25, for example';
    END IF;
    IF p_match IS NULL OR p_match NOT IN ('all', 'any') THEN
        RAISE EXCEPTION 'match must be ''all'' or ''any'', got %', coalesce(quote_literal(p_match), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'all: items with every tag; any: items with at least one';
    END IF;
    IF cardinality(v_sources) = 0 THEN
        RAISE EXCEPTION 'sources must name at least one source'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('sources are %s', array_to_string(c_sources, ', '));
    END IF;
    IF array_ndims(v_sources) > 1 THEN
        RAISE EXCEPTION 'sources must be a one-dimensional array, got % dimensions', array_ndims(v_sources)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass a flat list, e.g. sources => ''{community-regular,community-auto}''';
    END IF;
    IF NOT v_sources <@ c_sources OR array_position(v_sources, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'sources contains %, which is not a source',
            (SELECT coalesce(quote_literal(s), 'NULL') FROM unnest(v_sources) AS s
              WHERE s IS NULL OR NOT s = ANY (c_sources) LIMIT 1)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('sources are %s', array_to_string(c_sources, ', '));
    END IF;
    IF p_viewer_id IS NULL AND v_sources && '{user-regular,user-auto}'::text[] THEN
        RAISE EXCEPTION 'sources user-regular and user-auto need viewer_id'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass viewer_id, or sources => ''{community-regular,community-auto}'' for anonymous browsing';
    END IF;
    IF array_ndims(p_tags) > 1 THEN
        RAISE EXCEPTION 'tags must be a one-dimensional array, got % dimensions', array_ndims(p_tags)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass a flat list of tag ids, e.g. tags => ARRAY[''…''::uuid, ''…''::uuid]';
    END IF;
    IF array_position(p_tags, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'tags must not contain NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass tag ids only, or tags => NULL for no tag filter';
    END IF;
    IF cardinality(p_tags) > c_max_tag_elements THEN
        RAISE EXCEPTION 'tags has % elements, more than the % allowed', cardinality(p_tags), c_max_tag_elements
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('duplicates count here: pass each tag once, at most %s of them', p_max_tags);
    END IF;
    IF cardinality(p_tags) > p_max_tags THEN
        SELECT count(DISTINCT t) INTO v_distinct FROM unnest(p_tags) AS t;
        IF v_distinct > p_max_tags THEN
            RAISE EXCEPTION 'tags has % distinct tags, more than the % allowed', v_distinct, p_max_tags
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'narrow the filter, or raise gallery_config.max_tags';
        END IF;
    END IF;
    IF p_strategy IS NOT NULL THEN
        SELECT c.matches, c.needs_tags INTO v_strategy
          FROM _gallery_strategies() AS c WHERE c.strategy = p_strategy;
        IF NOT FOUND THEN
            RAISE EXCEPTION '% must be one of %, got %', p_strategy_param,
                            (SELECT string_agg(c.strategy, ', ') FROM _gallery_strategies() AS c),
                            quote_literal(p_strategy)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('or %s => NULL to let the planner choose', p_strategy_param);
        END IF;
        IF NOT p_match = ANY (v_strategy.matches) THEN
            RAISE EXCEPTION '% % does not implement match %', p_strategy_param, p_strategy,
                            quote_literal(p_match)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('match %s: %s', p_match,
                                    (SELECT string_agg(c.strategy, ', ') FROM _gallery_strategies() AS c
                                      WHERE p_match = ANY (c.matches)));
        END IF;
        IF v_strategy.needs_tags AND coalesce(cardinality(p_tags), 0) = 0 THEN
            RAISE EXCEPTION '% % needs tags', p_strategy_param, p_strategy
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('without tags: %s',
                                    (SELECT string_agg(c.strategy, ', ') FROM _gallery_strategies() AS c
                                      WHERE NOT c.needs_tags));
        END IF;
    END IF;
    RETURN ARRAY(SELECT DISTINCT s FROM unnest(v_sources) AS s ORDER BY s);
END
$$;

COMMENT ON FUNCTION gallery._gallery_check_args(uuid[], text, text[], bigint, integer, text, text, integer) IS
    'Internal: the argument checks shared by gallery_page and gallery_plan (22023); the sources to serve';
