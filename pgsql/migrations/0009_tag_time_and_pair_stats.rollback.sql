DROP TABLE tag_pair_stats;
ALTER TABLE tag_cardinality_stats DROP COLUMN newer_share;
