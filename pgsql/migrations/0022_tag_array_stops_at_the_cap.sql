-- depends: 0021_telemetry_unlogged
-- seed_candidate_cap bounded which filters tag_array could serve: only those whose rarest
-- tag (all) or tags together (any) had at most that many items, unless every walk was
-- estimated to read more. On zipf data that left a walk 4-8x slower than tag_array as the
-- only plan (zipf, an item's five tags, the rarest on 61,228 items: tag_merge 85 ms,
-- tag_array 11-20 ms). Now tag_array may serve any filter and reads at most the cap's
-- matches; past it the page is tag_walk's (pgsql/functions/_gallery_tag_array.sql), so
-- the cap bounds what a wrong match estimate can cost instead of ruling plans out. At
-- ~4-6 µs a match read at full scale (tag_array forced on one popular tag, 10,001
-- matches read then tag_walk's page: 42 ms on zipf, 61 ms on dense), the old default
-- (50,000) let a wrong estimate cost 200-300 ms; where a filter really has over 10,000
-- matches a walk finds a page in a few milliseconds (docs/planner.md), so the default
-- becomes 10,000. A value set by hand is kept.
-- Catalog change and one row updated (no table rewrite).
ALTER TABLE gallery_config ALTER COLUMN seed_candidate_cap SET DEFAULT 10000;
UPDATE gallery_config SET seed_candidate_cap = 10000 WHERE seed_candidate_cap = 50000;
COMMENT ON COLUMN gallery_config.seed_candidate_cap IS
    'most matches tag_array reads; past them the page is tag_walk''s';
