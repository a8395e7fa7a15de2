CREATE OR REPLACE FUNCTION gallery.gallery_count(
    tags      uuid[]  DEFAULT NULL,
    match     text    DEFAULT 'all',
    sources   text[]  DEFAULT NULL,   -- every source this caller may see
    viewer_id bigint  DEFAULT NULL,
    cap       integer DEFAULT 10000,
    mode      text    DEFAULT 'exact')
RETURNS TABLE (items bigint, exact boolean, low bigint, high bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE  -- stores estimates in the count memo
SECURITY DEFINER  -- the reader role calls it with no right on the tables
SET search_path = pg_catalog, gallery, pg_temp
SET max_parallel_workers_per_gather = 0  -- a Gather costs more than these reads
SET plan_cache_mode = force_generic_plan  -- the memo's probe was planned afresh on every call
SET enable_seqscan = on  -- _gallery_matches_sql turns scans off for its reading:
SET enable_bitmapscan = on  -- these clauses end that with the call
SET enable_indexscan = on
AS $$
#variable_conflict use_variable
DECLARE
    v_sources text[];
    v_tag_nos integer[];
    v_cfg public.gallery_config;
    v_memo record;  -- gallery_config, its version, the generation, the key's valid entry (or NULL)
    v_memo_key bytea;  -- NULL: no memo for this call
    v_fill bigint;
    v_est record;
    v_items bigint;  -- the answer
    v_exact boolean;  -- NULL: not found yet
    v_low bigint;
    v_high bigint;
    v_sample xid;  -- the sample's version an estimate was computed from
    v_plan record;  -- the planner's estimates for these filters
    -- costs in µs, measured at full scale (zipf): an item read by a sequential scan, a
    -- posting read from the GIN index, a match's row read after it
    c_us_per_item constant double precision := 0.4;
    c_us_per_posting constant double precision := 0.08;
    c_us_per_match constant double precision := 0.5;
    v_budget bigint;
    v_found bigint;
    v_own_only boolean;
    v_types text[];  -- the source types of the community sources (the postings' count)
    v_tag_ids uuid[];
    v_reading text := 'tag_array';  -- _gallery_matches_sql's way of reading the matches
BEGIN
    /*
    Contract: how many items gallery_page would return over all its pages for
    these filters (same parameters, defaults and errors as gallery_page:
    _gallery_check_args), counted as this viewer may see them (others'
    private items never), the way a UI shows it, like Elasticsearch's
    track_total_hits: exact = true and the number when there are at most cap;
    exact = false and items = cap ("at least cap") when there are more;
    low..high is where the count is: low = high = items when exact, low =
    cap and high NULL past the cap.
    mode 'estimate' asks for speed: items is an estimate from the stats
    sample (_gallery_count_estimate: co-occurrence, privacy and the
    viewer's own items as sampled, not a product of per-tag shares), exact =
    false, and low..high its ~95% interval (the Wilson score interval of
    the sampled share); as of the last gallery_stats_refresh(). When the
    exact per-tag counts allow at most 200 matches, or no sample was drawn
    yet, it counts as mode 'exact' does (exact = true): the rarest tag's
    ~200 index entries are all the GIN scan reads then. (A small count of
    popular tags is not counted: their posting lists take milliseconds.)
    Count memo (gallery_count_memo): an answer is kept for the next calls
    with the same arguments (tags, match, sources as given, viewer_id, cap,
    mode), in any session, and returned instead of checks and count while
    what it was computed from is unchanged: gallery_config's row and
    plan_memo_ttl_seconds, and
      an estimate answered from the sample: the sample's version, the tags'
      numbers (read again each time), the plan generation (writes to tags
      and tag_cardinality_stats);
      an exact count: the page cache's versions of its tags (every item's
      without tags), bumped by every write that can change a count in the
      writer's transaction (docs/operations.md, "Page cache") and read
      before the count, so a write committed meanwhile outdates it.
    A kept answer is the one a fresh call gives. plan_memo_entries bounds it
    (0: off). Not used nor stored in a read-only transaction (a hot standby
    has no unlogged tables); not stored by a transaction whose link changes
    are not in tag_nos yet (_gallery_tag_nos_pending); estimates that count
    (a few matches) are not kept.
    Errors (22023): those of gallery_page's filters; cap outside
    1..1000000; mode other than 'exact' or 'estimate'.
    Cost: with a kept answer, one statement (gallery_config, the newest
    entry of the key; the sample's version and one tags probe per tag, or the
    tags' versions). Otherwise what follows, and the answer stored (two index
    inserts; the oldest entries plan_memo_entries behind it deleted, at most
    100). exact, one tag or any of several, in a scope that shows every
    public item of its source types (anonymous, or with the viewer's own
    items of the same types, as by default): the tags' postings alone
    (_gallery_count_postings: index-only, ~0.15-0.4 µs each, stopped at cap + 1
    public items of one tag; with a viewer and fewer public ones, one item
    probe per private posting of the tags, at most 2,000, or a read of the
    viewer's items, at most 6,000, whichever reads less; else as follows).
    exact, otherwise with tags: the planner's estimates (_gallery_choose, one
    stats probe per tag), then either every posting of the tags in the GIN
    index on tag_nos (~0.08 µs each) and at most cap + 1 rows (~0.5 µs
    each); or, where the tags are estimated on more than 2 x cap items and
    that is cheaper, a sequential scan (~0.4 µs an item) that stops at
    cap + 1 matches, of at most the items that should hold twice that many,
    followed by the index's count if it comes up short; or, when the scope
    is the viewer's own items and the planner estimates it cheaper, a walk
    of them in the creator index that stops at cap + 1 matches. Without
    tags: the first cap + 1 items in scope, in any order. estimate: K + 4
    primary-key probes and bit operations over the sample (~0.1 ms),
    whatever matches: 0.3-0.5 ms a call with the checks (bench count, full
    scale); or at most ~200 rows counted.
    */
    IF cap IS NULL OR cap NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'cap must be between 1 and 1000000, got %', coalesce(cap::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'cap => 10000 counts exactly up to 10,000 and says "at least" past it';
    END IF;
    IF mode IS NULL OR mode NOT IN ('exact', 'estimate') THEN
        RAISE EXCEPTION 'mode must be ''exact'' or ''estimate'', got %', coalesce(quote_literal(mode), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'mode => ''estimate'' answers in well under a millisecond with a ~95% interval (low, high)';
    END IF;
    IF NOT current_setting('transaction_read_only')::boolean THEN
        -- (the key only for arguments that may pass the checks: a million tags are
        -- refused at once, not formatted first; the versions only for an exact count)
        SELECT c AS cfg, c.xmin AS config, g.generation, k.key, v.versions, m.entry INTO v_memo  -- noqa: PD006 OFFSET 0 fences the one-row key (computed once), it pages nothing
          FROM public.gallery_config c
         CROSS JOIN (SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END AS generation
                       FROM public.gallery_plan_generation s) AS g
         CROSS JOIN LATERAL (
               SELECT CASE WHEN coalesce(cardinality(tags), 0) <= c.max_tags THEN
                          sha256(convert_to(format('count-v1 %L %L %L %L %L %L', tags, match,
                                                   sources, viewer_id, cap, mode),
                                            'UTF8'))
                      END AS key
               OFFSET 0) AS k
         CROSS JOIN LATERAL (
               SELECT coalesce(sum(cv.version), 0)::bigint AS versions
                 FROM public.gallery_cache_versions cv
                WHERE mode = 'exact'
                  AND cv.key = ANY (CASE WHEN cardinality(tags) > 0 THEN tags
                                         ELSE '{00000000-0000-0000-0000-000000000000}' END)) AS v
          LEFT JOIN LATERAL (SELECT e AS entry FROM public.gallery_count_memo e
                              WHERE e.key = k.key
                              ORDER BY e.fill DESC
                              LIMIT 1) AS m
                 ON (m.entry).config = c.xmin AND (m.entry).expires_at > now()
                AND CASE WHEN (m.entry).versions IS NOT NULL THEN (m.entry).versions = v.versions
                         ELSE (m.entry).generation = g.generation
                              AND (m.entry).sample = (SELECT b.xmin FROM public.count_sample_bits b
                                                       WHERE b.dimension = 'public' AND b.key = 0)
                              AND (m.entry).tag_nos = ARRAY(SELECT t.tag_no FROM public.tags t
                                                             WHERE t.id = ANY (tags)
                                                             ORDER BY t.tag_no) END;
        IF (v_memo.entry).fill IS NOT NULL THEN
            RETURN QUERY SELECT (v_memo.entry).items, (v_memo.entry).exact, (v_memo.entry).low,
                                (v_memo.entry).high;
            RETURN;
        END IF;
        v_memo_key := v_memo.key;
        v_cfg := v_memo.cfg;
    ELSE
        SELECT * INTO v_cfg FROM public.gallery_config;
    END IF;
    v_sources := _gallery_check_args(tags, match, sources, viewer_id, 1, NULL, 'strategy',
                                     v_cfg.max_tags);
    v_tag_nos := _gallery_tag_nos(tags, match);
    IF v_tag_nos IS NULL OR (cardinality(tags) > 0 AND cardinality(v_tag_nos) = 0) THEN
        RETURN QUERY SELECT 0::bigint, true, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    IF mode = 'estimate' THEN
        SELECT * INTO v_est FROM _gallery_count_estimate(v_tag_nos, match, v_sources, viewer_id);
        IF FOUND AND v_est.upper_bound > 200 THEN
            v_items := v_est.items;
            v_exact := false;
            v_low := v_est.low;
            v_high := v_est.high;
            v_sample := v_est.sample;
        ELSE  -- at most ~200 matches (or no sample yet): counting is as cheap; not kept
            v_memo_key := NULL;
        END IF;
    END IF;
    -- One tag, or any of several, in a scope of every public item of some source types
    -- (anonymous; or with the viewer's own items of the same types): the postings alone,
    -- once they carry is_private (migration 0018), unless the knob is off, and not while
    -- this transaction's link changes are missing from tag_nos (what gallery_page reads)
    IF v_exact IS NULL AND (cardinality(v_tag_nos) = 1 OR (match = 'any' AND cardinality(v_tag_nos) > 0)) THEN
        v_types := _gallery_source_types(v_sources, 'community');
        IF v_cfg.enable_count_postings
           AND (viewer_id IS NULL OR _gallery_source_types(v_sources, 'user') = v_types)
           AND EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = to_regclass('public.content_tags_tag_created_idx')
                          AND a.attname = 'is_private')
           AND NOT _gallery_tag_nos_pending() THEN
            v_found := _gallery_count_postings(tags, v_tag_nos, v_types, viewer_id, cap + 1);
            IF v_found IS NOT NULL THEN
                v_items := least(v_found, cap);
                v_exact := v_found <= cap;
                v_low := v_items;
                v_high := CASE WHEN v_exact THEN v_items END;
            END IF;
        END IF;
    END IF;
    IF v_exact IS NULL THEN
        -- Two ways to count cap + 1 matches, chosen by the planner's estimates (tags'
        -- counts, matches with co-occurrence, items in scope): the GIN index, which
        -- reads every posting of the tags and then at most cap + 1 rows; or, where the
        -- tags are on a large share of the items, the table in its own order, which
        -- stops at cap + 1 matches. The scan is tried with a budget of items that
        -- should hold twice the matches needed when the half of it that should do
        -- costs less than the index; short of cap + 1 matches, the index counts (a
        -- wrong estimate costs at most the budget on top). When the scope is the
        -- viewer's own items, a walk of them in the creator index where the planner
        -- estimates it cheaper than the index. Without tags: the items in scope, in any
        -- order.
        IF cardinality(v_tag_nos) > 0 THEN
            SELECT p.tag_ids, p.estimated_candidates, p.items_in_scope,
                   c_us_per_posting * (SELECT sum(n) FROM unnest(p.tag_counts) AS n)
                   + c_us_per_match * least(p.estimated_candidates, cap + 1) AS index_cost,
                   (p.costs ->> 'order_first')::double precision AS own_walk_cost
              INTO v_plan
              FROM _gallery_choose_for(tags, match, v_sources, cap + 1) AS p;
            v_tag_ids := v_plan.tag_ids;  -- rarest first
            v_own_only := NOT v_sources && '{community-regular,community-auto}'::text[];
            IF v_own_only AND v_plan.own_walk_cost < v_plan.index_cost THEN
                v_reading := 'order_first';  -- the viewer's items, in the creator index
            ELSIF NOT v_own_only AND v_plan.estimated_candidates > 2 * cap THEN
                v_budget := ceil(2.0 * (cap + 1) * v_plan.items_in_scope / v_plan.estimated_candidates);
                IF v_budget / 2 * c_us_per_item < v_plan.index_cost THEN
                    EXECUTE format('SELECT count(*) FROM (%s) AS m',  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
                                   _gallery_matches_sql('scan', match, v_sources, true, false))
                       INTO v_found
                      USING viewer_id, v_tag_nos, cap + 1, v_tag_ids, v_budget;
                    IF v_found > cap THEN
                        v_items := cap;
                        v_exact := false;
                        v_low := cap;
                    END IF;
                END IF;
            END IF;
        END IF;
        IF v_exact IS NULL THEN
            EXECUTE format(  -- noqa: PLPGSQL_CHECK the SQL is built from constants only; values go through USING
                'SELECT least(count(*), $3 - 1)::bigint, count(*) < $3, least(count(*), $3 - 1)::bigint,'
                '       CASE WHEN count(*) < $3 THEN count(*) END::bigint'
                '  FROM (%s) AS m',
                _gallery_matches_sql(v_reading, match, v_sources, cardinality(v_tag_nos) > 0, false))
               INTO v_items, v_exact, v_low, v_high
              USING viewer_id, v_tag_nos, cap + 1, v_tag_ids;
        END IF;
    END IF;
    -- the answer kept, unless this transaction's own link changes are not in tag_nos yet
    -- (written at its commit: the count may lack them, the versions count them)
    IF v_memo_key IS NOT NULL AND v_cfg.plan_memo_entries > 0 AND NOT _gallery_tag_nos_pending() THEN
        v_fill := nextval('public.gallery_count_memo_fills');
        -- (an index probe however big the memo: = ANY of at most 100, oldest first)
        DELETE FROM public.gallery_count_memo e
         WHERE e.fill = ANY (ARRAY(SELECT o.fill FROM public.gallery_count_memo o
                                   WHERE o.fill <= v_fill - v_cfg.plan_memo_entries
                                   ORDER BY o.fill LIMIT 100
                                     FOR UPDATE SKIP LOCKED));
        INSERT INTO public.gallery_count_memo
               (fill, key, config, expires_at, items, exact, low, high,
                generation, sample, tag_nos, versions)
        VALUES (v_fill, v_memo_key, v_memo.config,
                now() + make_interval(secs => v_cfg.plan_memo_ttl_seconds),
                v_items, v_exact, v_low, v_high,
                CASE WHEN mode = 'estimate' THEN v_memo.generation END,
                v_sample,
                CASE WHEN mode = 'estimate' THEN v_tag_nos END,
                CASE WHEN mode = 'exact' THEN v_memo.versions END);
    END IF;
    RETURN QUERY SELECT v_items, v_exact, v_low, v_high;
END
$$;

COMMENT ON FUNCTION gallery.gallery_count(uuid[], text, text[], bigint, integer, text) IS
    'How many items gallery_page would return for these filters: exact up to cap, else "at least cap"; or an estimate with its interval';
