-- Back to 0012: the knobs of the junction strategies, at their defaults (the functions
-- that read them are those of the release that had them).
ALTER TABLE gallery_config
    ADD COLUMN small_k_threshold integer NOT NULL DEFAULT 3
        CONSTRAINT small_k_threshold_range CHECK (small_k_threshold BETWEEN 0 AND 10),
    ADD COLUMN group_having_rarest_ceiling bigint NOT NULL DEFAULT 50000
        CONSTRAINT group_having_rarest_ceiling_range CHECK (group_having_rarest_ceiling >= 0),
    ADD COLUMN two_phase_min_k_for_dual_seed integer NOT NULL DEFAULT 7
        CONSTRAINT two_phase_min_k_for_dual_seed_range
        CHECK (two_phase_min_k_for_dual_seed BETWEEN 2 AND 100),
    ADD COLUMN two_phase_dual_seed_floor bigint NOT NULL DEFAULT 150000
        CONSTRAINT two_phase_dual_seed_floor_range CHECK (two_phase_dual_seed_floor >= 0),
    ADD COLUMN enable_self_join boolean NOT NULL DEFAULT true,
    ADD COLUMN enable_group_having boolean NOT NULL DEFAULT true,
    ADD COLUMN enable_two_phase boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN gallery_config.seed_candidate_cap IS
    'most candidates a tag-first strategy may collect; above it the planner walks in time order';
