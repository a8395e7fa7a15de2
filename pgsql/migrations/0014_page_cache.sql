-- depends: 0013_junction_strategies_dropped
-- A cache of gallery pages next to the data, never stale (docs/operations.md, "Page cache").
-- An entry is served only while the versions of what it was read from are unchanged: a
-- version per tag (the pages filtered by it) and one for "every item" (pages without a
-- tag filter), bumped by triggers in the writer's own transaction. Both tables are
-- UNLOGGED: a crash restart empties them together, which is a valid (cold) state.
-- Catalog changes only; the cache is off until gallery_config.cache_enabled is set.

ALTER TABLE gallery_config
    ADD COLUMN cache_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN cache_ttl_seconds integer NOT NULL DEFAULT 300
        CONSTRAINT cache_ttl_seconds_range CHECK (cache_ttl_seconds BETWEEN 1 AND 86400),
    ADD COLUMN cache_max_entries integer NOT NULL DEFAULT 10000
        CONSTRAINT cache_max_entries_range CHECK (cache_max_entries BETWEEN 1 AND 1000000);
COMMENT ON COLUMN gallery_config.cache_enabled IS
    'gallery_page serves and stores pages in gallery_page_cache (writers keep its versions either way)';
COMMENT ON COLUMN gallery_config.cache_ttl_seconds IS
    'a cached page is served at most this long after it was read';
COMMENT ON COLUMN gallery_config.cache_max_entries IS
    'most pages cached; a new page takes the place of the oldest (first in, first out)';

-- Versions: per key (a tag's id; the nil uuid for "every item") the sum of its rows'
-- versions. A writer bumps the row of a slot it holds an advisory lock on
-- (_gallery_cache_touch), so writers never wait for each other here.
CREATE UNLOGGED TABLE public.gallery_cache_versions (
    key     uuid     NOT NULL,
    slot    smallint NOT NULL,
    version bigint   NOT NULL,
    PRIMARY KEY (key, slot)
) WITH (fillfactor = 50);  -- room for HOT updates: a bump touches no index
COMMENT ON TABLE public.gallery_cache_versions IS
    'Write counters guarding gallery_page_cache: per tag id, and the nil uuid for every item; a key''s version is the sum over its slots';

-- One row of gallery_page's output.
CREATE TYPE public.gallery_cached_row AS (
    id bigint, source_type text, created_at timestamptz, creator_id bigint,
    title text, content_type text, content_data text, path_thumb text,
    path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb,
    is_private boolean, quality_score double precision, updated_at timestamptz,
    row_cursor text, has_more boolean);

CREATE UNLOGGED TABLE public.gallery_page_cache (
    key        bytea       PRIMARY KEY,  -- sha256 of the canonical request (_gallery_cache_key)
    slot       integer     NOT NULL UNIQUE,  -- place in the ring of cache_max_entries
    guard      uuid[]      NOT NULL,     -- the version keys it depends on: its tags, or
                                         -- the nil uuid (every item) without a tag filter
    versions   bigint      NOT NULL,     -- their sum when the page was read
    config     xid         NOT NULL,     -- gallery_config's row version it was read with
    page       public.gallery_cached_row[] NOT NULL,
    first_page jsonb,                    -- a first page's call (tags, match, sources,
                                         -- viewer_id, page_size): gallery_cache_warm
    filled_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
ALTER TABLE public.gallery_page_cache ALTER COLUMN page SET STORAGE EXTERNAL;  -- no decompression on a hit
COMMENT ON TABLE public.gallery_page_cache IS
    'Cached gallery pages (gallery_config.cache_enabled); valid while versions = the sum of guard''s gallery_cache_versions and config = gallery_config''s xmin';

CREATE UNLOGGED SEQUENCE public.gallery_cache_fills;
CREATE UNLOGGED SEQUENCE public.gallery_cache_hits;
CREATE UNLOGGED SEQUENCE public.gallery_cache_misses;
CREATE UNLOGGED SEQUENCE public.gallery_cache_evictions;
CREATE UNLOGGED SEQUENCE public.gallery_cache_invalidations;
CREATE UNLOGGED SEQUENCE public.gallery_cache_expirations;
COMMENT ON SEQUENCE public.gallery_cache_fills IS 'pages stored in gallery_page_cache (also the ring position)';
COMMENT ON SEQUENCE public.gallery_cache_hits IS 'gallery_page calls served from gallery_page_cache';
COMMENT ON SEQUENCE public.gallery_cache_misses IS 'gallery_page calls that found no valid entry';
COMMENT ON SEQUENCE public.gallery_cache_evictions IS 'entries replaced in the ring (any state)';
COMMENT ON SEQUENCE public.gallery_cache_invalidations IS 'misses on an entry a write or a knob change had made invalid';
COMMENT ON SEQUENCE public.gallery_cache_expirations IS 'misses on an entry older than cache_ttl_seconds';

-- (the counters are unlogged sequences: no write and no lock on a hit; counted since the
-- last crash restart, and not in read-only transactions, which bypass the cache)
CREATE VIEW public.gallery_cache_summary AS
SELECT c.entries, c.valid_entries, pg_total_relation_size('public.gallery_page_cache') AS bytes,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gallery_cache_hits) AS hits,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gallery_cache_misses) AS misses,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gallery_cache_fills) AS fills,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gallery_cache_invalidations) AS invalidations,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gallery_cache_expirations) AS expirations,
       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.gallery_cache_evictions) AS evictions
  FROM (SELECT count(*) AS entries,
               count(*) FILTER (WHERE e.expires_at > now()
                                  AND e.config = (SELECT g.xmin FROM public.gallery_config g)
                                  AND e.versions = (SELECT coalesce(sum(v.version), 0)
                                                      FROM public.gallery_cache_versions v
                                                     WHERE v.key = ANY (e.guard))) AS valid_entries
          FROM public.gallery_page_cache e) AS c;
COMMENT ON VIEW public.gallery_cache_summary IS
    'The page cache: entries (valid: servable now), size, and its counters since the last restart after a crash';

-- The triggers' functions (their files replace these in the same transaction).
CREATE OR REPLACE FUNCTION gallery.content_tags_touch_cache_new() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';
CREATE OR REPLACE FUNCTION gallery.content_tags_touch_cache_old() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';
CREATE OR REPLACE FUNCTION gallery.content_items_all_touch_cache() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';
CREATE OR REPLACE FUNCTION gallery.gallery_cache_truncated() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, gallery, pg_temp AS 'BEGIN RETURN NULL; END';

CREATE TRIGGER content_tags_touch_cache_insert
    AFTER INSERT ON content_tags REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_touch_cache_new();
CREATE TRIGGER content_tags_touch_cache_delete
    AFTER DELETE ON content_tags REFERENCING OLD TABLE AS old_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_touch_cache_old();
CREATE TRIGGER content_tags_touch_cache_update_new
    AFTER UPDATE ON content_tags REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_touch_cache_new();
CREATE TRIGGER content_tags_touch_cache_update_old
    AFTER UPDATE ON content_tags REFERENCING OLD TABLE AS old_links
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_tags_touch_cache_old();
CREATE TRIGGER content_items_all_touch_cache_insert_delete
    AFTER INSERT OR DELETE ON content_items_all
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.content_items_all_touch_cache();
-- every column a page shows or filters on; not tag_nos, which content_tags' changes
-- already account for (its at-commit rewrite would bump the item's tags twice)
CREATE TRIGGER content_items_all_touch_cache_update
    AFTER UPDATE ON content_items_all
    FOR EACH ROW WHEN ((OLD.title, OLD.content_type, OLD.content_data, OLD.path_thumb,
                        OLD.path_thumbs_alt_res, OLD.prompt, OLD.creator_id, OLD.item_metadata,
                        OLD.is_private, OLD.quality_score, OLD.created_at, OLD.updated_at)
                       IS DISTINCT FROM
                       (NEW.title, NEW.content_type, NEW.content_data, NEW.path_thumb,
                        NEW.path_thumbs_alt_res, NEW.prompt, NEW.creator_id, NEW.item_metadata,
                        NEW.is_private, NEW.quality_score, NEW.created_at, NEW.updated_at))
    EXECUTE FUNCTION gallery.content_items_all_touch_cache();
CREATE TRIGGER content_tags_cache_truncated
    AFTER TRUNCATE ON content_tags
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.gallery_cache_truncated();
CREATE TRIGGER content_items_all_cache_truncated
    AFTER TRUNCATE ON content_items_all
    FOR EACH STATEMENT EXECUTE FUNCTION gallery.gallery_cache_truncated();
