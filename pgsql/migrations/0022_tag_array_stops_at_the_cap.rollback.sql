-- The default and the meaning before 0022 (a value set by hand is kept).
ALTER TABLE gallery_config ALTER COLUMN seed_candidate_cap SET DEFAULT 50000;
UPDATE gallery_config SET seed_candidate_cap = 50000 WHERE seed_candidate_cap = 10000;
COMMENT ON COLUMN gallery_config.seed_candidate_cap IS
    'most items tag_array may read (the rarest tag''s under all, the tags'' together under any), unless every walk is estimated to read more';
