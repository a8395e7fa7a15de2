-- depends: 0011_tag_postings_in_time_order
-- What gallery_count's estimate mode reads: the stats sample of items that
-- gallery_stats_refresh() already draws (_gallery_stats_sample), kept as bit strings
-- over its positions, one per tag, per creator, per source and for "not private".
-- ANDing them counts, within the sample, the items a viewer may see with every tag,
-- correlations, privacy and the viewer's own items included, in microseconds.
-- Catalog changes only: an empty table, filled by the next refresh.
CREATE TABLE public.count_sample_bits (
    dimension  text NOT NULL CHECK (dimension IN ('tag', 'creator', 'source', 'public')),
    key        bigint NOT NULL,  -- tag: tags.tag_no; creator: creator_id;
                                 -- source: 0 'items', 1 'auto'; public: 0
    bits       varbit NOT NULL,  -- bit i: sampled item i has it
    population bigint,           -- source: the partition's items when sampled
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dimension, key)
);
COMMENT ON TABLE public.count_sample_bits IS
    'The stats sample of items as bit strings (a bit per sampled item) per tag, creator, source and public; read by gallery_count(mode => ''estimate'')';
