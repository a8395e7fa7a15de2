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
    it), the tests and the bench read it (pydeploy/catalogue.py reads this
    file). Each strategy's whole query is its function _gallery_<strategy>
    (same parameters for all), which gallery_page runs inlined into its
    statement, and its cost formula is in _gallery_choose; the tests check
    that every catalogued strategy has both, and that nothing else has either.
    Cost: none (constants).
    */
    SELECT * FROM (VALUES
        ('order_first', ARRAY['all', 'any'], false,
         'walk the items newest first from the cursor, test each item''s tag_nos'),
        ('tag_walk', ARRAY['all', 'any'], true,
         'walk the rarest tag''s items newest first, test each item''s tag_nos (any: each tag''s)'),
        ('tag_merge', ARRAY['all'], true,
         'merge the two rarest tags'' postings newest first, test the items both carry'),
        ('tag_array', ARRAY['all', 'any'], true,
         'the items from the GIN index on tag_nos (@> all, && any), then a top-N sort')
    ) AS c(strategy, matches, needs_tags, summary)
$$;

COMMENT ON FUNCTION gallery._gallery_strategies() IS
    'Internal: the catalogue of gallery strategies (name, matches served, needs tags, summary)';
