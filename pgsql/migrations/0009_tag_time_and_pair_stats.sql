-- depends: 0008_tag_nos_at_commit_random_secret
-- What the planner needs beyond per-tag counts, both sampled by gallery_stats_refresh():
--   * where in time a tag's items start: a newest-first walk passes every newer item
--     before it reaches the tag (a tag whose use stopped years ago);
--   * how often frequent tags meet: two tags that go together match far more items
--     than independence predicts, two that avoid each other far fewer.
-- Catalog changes only: no table is rewritten, nothing is scanned.
ALTER TABLE tag_cardinality_stats
    ADD COLUMN newer_share real CONSTRAINT newer_share_range CHECK (newer_share BETWEEN 0 AND 1);
COMMENT ON COLUMN tag_cardinality_stats.newer_share IS
    'Share of this source''s items newer than the newest one carrying the tag (sampled); NULL: not seen in the sample';

CREATE TABLE tag_pair_stats (
    tag_a      uuid NOT NULL,
    tag_b      uuid NOT NULL,
    lift       real NOT NULL CHECK (lift >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tag_a, tag_b),
    CONSTRAINT tag_pair_stats_ordered CHECK (tag_a < tag_b)
);
COMMENT ON TABLE tag_pair_stats IS
    'For pairs of frequent tags: items carrying both / the number independence predicts (sampled; 1 = independent)';
