CREATE OR REPLACE FUNCTION gallery._gallery_strategies()
RETURNS TABLE (strategy text, matches text[], needs_tags boolean, summary text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, gallery, pg_temp
AS $$
    /*
    Contract: the catalogue of gallery_page's strategies, one row each, in the
    order error messages list them: its name, the matches it implements
    ('all', 'any'), whether it needs tags (without tags only the strategies
    that do not need them apply), and what it reads, in a line.
    The one list of strategies: _gallery_check_args takes from it which
    names exist and what each accepts (and words its errors and HINTs with
    it), gallery_plan estimates exactly the strategies that serve the match,
    the tests and the bench read it (pydeploy/catalogue.py reads this file).
    Each strategy has its SQL in _gallery_<strategy>_sql (its final text for
    every match, scope, direction and cursor is in tests/golden/strategies/)
    and its cost formula in gallery_plan; the tests check that every
    catalogued strategy has both, and that nothing else has either.
    Cost: none (constants).
    */
    SELECT * FROM (VALUES
        ('order_first', ARRAY['all', 'any'], false,
         'walk the items newest first from the cursor, test each item''s tags'),
        ('self_join', ARRAY['all'], true,
         'the rarest tag''s items, one primary-key probe per other tag'),
        ('group_having', ARRAY['all'], true,
         'the links of all the tags, grouped by item, kept with K of them'),
        ('two_phase', ARRAY['all'], true,
         'the seed tags'' items, then one range probe per seed counting its tags'),
        ('tag_union', ARRAY['any'], true,
         'the items of any of the tags, each once'),
        ('tag_array', ARRAY['all', 'any'], true,
         'the items from the GIN index on tag_nos (@> all, && any), then a top-N sort'),
        ('tag_walk', ARRAY['all', 'any'], true,
         'the rarest tag''s items newest first, test each item''s tag_nos (any: each tag''s, merged)')
    ) AS c(strategy, matches, needs_tags, summary)
$$;

COMMENT ON FUNCTION gallery._gallery_strategies() IS
    'Internal: the catalogue of gallery strategies (name, matches served, needs tags, summary)';
