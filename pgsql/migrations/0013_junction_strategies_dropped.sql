-- depends: 0012_count_sample_bits
-- The strategies self_join, group_having, two_phase and tag_union are gone: with the
-- time-ordered tag postings (0011) tag_walk serves their classes at a fraction of their
-- cost (docs/planner.md, bench/RESULTS.md). Their knobs go with them. seed_candidate_cap
-- stays: it bounds what tag_array reads. Catalog changes only.
ALTER TABLE gallery_config
    DROP COLUMN small_k_threshold,
    DROP COLUMN group_having_rarest_ceiling,
    DROP COLUMN two_phase_min_k_for_dual_seed,
    DROP COLUMN two_phase_dual_seed_floor,
    DROP COLUMN enable_self_join,
    DROP COLUMN enable_group_having,
    DROP COLUMN enable_two_phase;
COMMENT ON COLUMN gallery_config.seed_candidate_cap IS
    'most items tag_array may read (the rarest tag''s under all, the tags'' together under any), unless every walk is estimated to read more';
