"""gallery_page against a brute-force oracle: every strategy, K = 0..20, all/any, every
source alone and combined, viewers, page sizes 1, 7, 25 and 100, every page both ways."""

from __future__ import annotations

import base64
import itertools

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from pydeploy import catalogue
from tests.conftest import SQL_DIR

ALL_SOURCES = ["user-regular", "user-auto", "community-regular", "community-auto"]
COMMUNITY = ["community-regular", "community-auto"]
TAGS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 25)]  # see GALLERY_DATA_SQL
FILTER_TAGS = TAGS[:20]  # dense, middling and sparse: every K up to max_tags has answers
RARE_TAGS = TAGS[20:23]
EMPTY_TAG = TAGS[23]  # on no item
MAX_TAGS = 20  # gallery_config.max_tags by default
# every source alone with a viewer, all four, and the anonymous community scope
SCOPES = [
    *(([source], 2) for source in ALL_SOURCES),
    (ALL_SOURCES, 2),
    (COMMUNITY, None),
]
UNKNOWN_TAG = "00000000-0000-0000-0000-0000000000ff"
# the catalogue (gallery._gallery_strategies(), read from its file at collection time;
# test_strategies.py checks the file against the deployed function)
ALL_STRATEGIES = catalogue.strategies_for("all", sql_dir=SQL_DIR)
ANY_STRATEGIES = catalogue.strategies_for("any", sql_dir=SQL_DIR)
TAGLESS_STRATEGIES = catalogue.strategies_for("all", tags=False, sql_dir=SQL_DIR)

ORACLE_SQL = """
SELECT i.id FROM content_items_all i
 WHERE ((i.source_type = 'items' AND i.creator_id = %(viewer)s
         AND 'user-regular' = ANY (%(sources)s::text[]))
     OR (i.source_type = 'auto' AND i.creator_id = %(viewer)s
         AND 'user-auto' = ANY (%(sources)s::text[]))
     OR (i.source_type = 'items' AND i.creator_id IS DISTINCT FROM %(viewer)s
         AND NOT i.is_private AND 'community-regular' = ANY (%(sources)s::text[]))
     OR (i.source_type = 'auto' AND i.creator_id IS DISTINCT FROM %(viewer)s
         AND NOT i.is_private AND 'community-auto' = ANY (%(sources)s::text[])))
   AND (cardinality(%(tags)s::uuid[]) = 0
     OR (%(match)s = 'all' AND NOT EXISTS (
            SELECT 1 FROM unnest(%(tags)s::uuid[]) AS t
             WHERE NOT EXISTS (SELECT 1 FROM content_tags ct
                                WHERE ct.content_id = i.id AND ct.tag_id = t)))
     OR (%(match)s = 'any' AND EXISTS (
            SELECT 1 FROM content_tags ct
             WHERE ct.content_id = i.id AND ct.tag_id = ANY (%(tags)s::uuid[]))))
 ORDER BY i.created_at DESC, i.id DESC
"""

PAGE_SQL = """
SELECT id, row_cursor, has_more FROM gallery_page(
    tags => %(tags)s::uuid[], cursor => %(cursor)s, page_size => %(page_size)s,
    match => %(match)s, sources => %(sources)s::text[], viewer_id => %(viewer)s,
    direction => %(direction)s, strategy => %(strategy)s)
"""


@pytest.fixture(scope="module")
def conn(gallery_readonly: str) -> psycopg.Connection:
    with psycopg.connect(gallery_readonly, autocommit=True, row_factory=dict_row) as c:
        yield c


def oracle(
    conn: psycopg.Connection, tags: list[str], match: str, sources: list[str], viewer: int | None
) -> list[int]:
    rows = conn.execute(
        ORACLE_SQL, {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
    ).fetchall()
    return [r["id"] for r in rows]


def page(conn: psycopg.Connection, **kwargs: object) -> list[dict]:
    args = {
        "tags": None,
        "cursor": None,
        "page_size": 25,
        "match": "all",
        "sources": ALL_SOURCES,
        "viewer": None,
        "direction": "next",
        "strategy": None,
    }
    args.update(kwargs)
    return conn.execute(PAGE_SQL, args).fetchall()


def walk(conn: psycopg.Connection, page_size: int, **filters: object) -> list[int]:
    """Every page forward until an empty one, then, from each page, the page before it:
    it must be the forward page before it, row for row (cursors included), and the first
    page has none before it. Fails on a repeated item or on more calls than the items
    allow (a cursor that does not advance)."""
    total = conn.execute("SELECT count(*) AS n FROM content_items_all").fetchone()["n"]
    pages: list[list[dict]] = []
    cursor = None
    while True:
        assert len(pages) <= total // page_size + 1, "the walk does not end"
        rows = page(conn, cursor=cursor, page_size=page_size, **filters)
        assert len(rows) <= page_size
        if not rows:
            break
        if pages:
            assert len(pages[-1]) == page_size, "a short page was not the last one"
            assert pages[-1][0]["has_more"], "a page said no more, yet one followed"
        assert len({r["has_more"] for r in rows}) == 1
        pages.append(rows)
        cursor = rows[-1]["row_cursor"]
    if pages:
        assert not pages[-1][0]["has_more"], "the last page said more follow"
    forward = [r["id"] for p in pages for r in p]
    assert len(forward) == len(set(forward)), "an item repeated"
    for n, (before, this) in enumerate(itertools.pairwise([[], *pages])):
        back = page(
            conn, cursor=this[0]["row_cursor"], page_size=page_size, direction="prev", **filters
        )
        assert [(r["id"], r["row_cursor"]) for r in back] == [
            (r["id"], r["row_cursor"]) for r in before
        ], "the page before is not the one the walk came from"
        # going back, more pages follow unless this is the first one
        assert all(r["has_more"] == (n > 1) for r in back), "prev's has_more is wrong"
    return forward


def k_tags(k: int) -> list[str]:
    """K of FILTER_TAGS, dense, middling and sparse mixed (7 is prime to 20)."""
    return [FILTER_TAGS[(i * 7) % len(FILTER_TAGS)] for i in range(k)]


def strategies_for(match: str, tags: list[str]) -> list[str | None]:
    if not tags:
        return [None, *catalogue.strategies_for(match, tags=False, sql_dir=SQL_DIR)]
    return [None, *(ALL_STRATEGIES if match == "all" else ANY_STRATEGIES)]


@pytest.mark.parametrize("match", ["all", "any"])
@pytest.mark.parametrize("k", range(MAX_TAGS + 1))
def test_every_strategy_matches_the_oracle_for_k_tags(
    conn: psycopg.Connection, k: int, match: str
) -> None:
    tags = k_tags(k)
    for sources, viewer in SCOPES:
        expected = oracle(conn, tags, match, sources, viewer)
        page_size = 7 if len(expected) <= 50 else 100  # a few pages each, the suite stays quick
        for strategy in strategies_for(match, tags):
            got = walk(
                conn,
                page_size,
                tags=tags,
                match=match,
                sources=sources,
                viewer=viewer,
                strategy=strategy,
            )
            assert got == expected, (strategy, sources)


@pytest.mark.parametrize("page_size", [1, 100])
@pytest.mark.parametrize(
    ("tags", "match"), [(k_tags(3), "all"), (RARE_TAGS, "any")], ids=["all", "any"]
)
def test_every_strategy_walks_with_the_smallest_and_largest_pages(
    conn: psycopg.Connection, page_size: int, tags: list[str], match: str
) -> None:
    for sources, viewer in ((ALL_SOURCES, 2), (["community-auto"], 2)):
        expected = oracle(conn, tags, match, sources, viewer)
        assert len(expected) > 1
        for strategy in strategies_for(match, tags):
            got = walk(
                conn,
                page_size,
                tags=tags,
                match=match,
                sources=sources,
                viewer=viewer,
                strategy=strategy,
            )
            assert got == expected, (strategy, sources)


@pytest.mark.parametrize("match", ["all", "any"])
def test_order_first_probing_the_junction_matches_the_oracle(
    conn: psycopg.Connection, match: str
) -> None:
    """With enable_tag_array off, order_first probes content_tags instead of tag_nos."""
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE gallery_config SET enable_tag_array = false")
        for k in (1, 2, 5, MAX_TAGS):
            tags = k_tags(k)
            for sources, viewer in SCOPES:
                got = walk(
                    conn,
                    25,
                    tags=tags,
                    match=match,
                    sources=sources,
                    viewer=viewer,
                    strategy="order_first",
                )
                assert got == oracle(conn, tags, match, sources, viewer), (k, sources)


def test_the_data_has_what_the_tests_need(conn: psycopg.Connection) -> None:
    """Guards the fixture: without these shapes the oracle comparisons prove little."""
    # every K and match mode, in every combined scope and in at least one single-source
    # scope, has an answer that is neither empty nor everything in scope
    for k, match in itertools.product(range(1, MAX_TAGS + 1), ["all", "any"]):
        trivial = []
        for sources, viewer in SCOPES:
            in_scope = len(oracle(conn, [], "all", sources, viewer))
            found = len(oracle(conn, k_tags(k), match, sources, viewer))
            if not 0 < found < in_scope:
                trivial.append(sources)
        assert len(trivial) < len(SCOPES) - 2, (k, match, trivial)
        assert COMMUNITY not in trivial and ALL_SOURCES not in trivial, (k, match, trivial)
    counts = {
        r["name"]: r["n"]
        for r in conn.execute(
            "SELECT t.name, count(ct.tag_id) AS n FROM tags t"
            " LEFT JOIN content_tags ct ON ct.tag_id = t.id GROUP BY 1"
        )
    }
    assert counts["tag1"] > 400 and 0 < counts["tag21"] < 30 and counts["tag24"] == 0
    per_item = conn.execute(
        "SELECT max(n) AS most, count(*) FILTER (WHERE n = 0) AS untagged FROM ("
        " SELECT count(ct.tag_id) AS n FROM content_items_all i"
        " LEFT JOIN content_tags ct ON ct.content_id = i.id GROUP BY i.id) AS t"
    ).fetchone()
    assert per_item["most"] >= MAX_TAGS and per_item["untagged"] > 20
    times = conn.execute(
        "SELECT count(*) - count(DISTINCT created_at) AS equal,"
        "       count(*) FILTER (WHERE date_part('microseconds', created_at)::int % 1000 <> 0)"
        "           AS sub_ms,"
        "       corr(id, extract(epoch FROM created_at)) AS id_time_correlation"
        "  FROM content_items_all"
    ).fetchone()
    assert times["equal"] > 100 and times["sub_ms"] == 800
    assert abs(times["id_time_correlation"]) < 0.2
    one_apart = conn.execute(
        "SELECT count(*) AS n FROM content_items_all a JOIN content_items_all b"
        " ON b.created_at = a.created_at + interval '1 microsecond'"
    ).fetchone()["n"]
    assert one_apart > 100


# Hypothesis draws mostly non-empty cases: tags from FILTER_TAGS, few of them; the rare,
# empty and unknown ones now and then. The edges are always tried (@example).
TAG_DRAWS = st.one_of(
    st.lists(st.sampled_from(FILTER_TAGS), max_size=4),
    st.lists(st.sampled_from(FILTER_TAGS), min_size=5, max_size=MAX_TAGS),
    st.lists(st.sampled_from([*TAGS, UNKNOWN_TAG]), max_size=6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tags=TAG_DRAWS,
    match=st.sampled_from(["all", "any"]),
    sources=st.lists(st.sampled_from(ALL_SOURCES), min_size=1, max_size=4, unique=True),
    viewer=st.one_of(st.none(), st.integers(1, 5)),
    page_size=st.sampled_from([1, 3, 7, 25, 100]),
    data=st.data(),
)
@example(tags=[], match="all", sources=COMMUNITY, viewer=None, page_size=1, data=None)
@example(tags=FILTER_TAGS, match="all", sources=ALL_SOURCES, viewer=1, page_size=1, data=None)
@example(tags=FILTER_TAGS, match="any", sources=["user-auto"], viewer=3, page_size=7, data=None)
@example(
    tags=[EMPTY_TAG, UNKNOWN_TAG],
    match="any",
    sources=COMMUNITY,
    viewer=None,
    page_size=1,
    data=None,
)
@example(
    tags=[TAGS[0], TAGS[0], RARE_TAGS[0]],
    match="all",
    sources=["user-regular"],
    viewer=2,
    page_size=3,
    data=None,
)
def test_any_filters_any_strategy_any_page_size(
    conn: psycopg.Connection,
    tags: list[str],
    match: str,
    sources: list[str],
    viewer: int | None,
    page_size: int,
    data: st.DataObject | None,
) -> None:
    if viewer is None:
        sources = [s for s in sources if s.startswith("community")] or COMMUNITY
    distinct = sorted(set(tags))
    choices = strategies_for(match, distinct)
    expected = oracle(conn, distinct, match, sources, viewer)
    if len(expected) > 30 * page_size:
        page_size = 25  # small pages over long results: covered above, too slow to repeat here
    for strategy in choices if data is None else [data.draw(st.sampled_from(choices))]:
        got = walk(
            conn,
            page_size,
            tags=tags,
            match=match,
            sources=sources,
            viewer=viewer,
            strategy=strategy,
        )
        assert got == expected, strategy


def test_duplicate_and_unknown_tags(conn: psycopg.Connection) -> None:
    once = walk(conn, 25, tags=[TAGS[0], TAGS[1]], sources=COMMUNITY)
    assert walk(conn, 25, tags=[TAGS[1], TAGS[0], TAGS[0]], sources=COMMUNITY) == once
    assert walk(conn, 25, tags=[TAGS[0], UNKNOWN_TAG], sources=COMMUNITY) == []
    assert walk(conn, 25, tags=[TAGS[0], UNKNOWN_TAG], match="any", sources=COMMUNITY) == walk(
        conn, 25, tags=[TAGS[0]], match="any", sources=COMMUNITY
    )
    assert walk(conn, 25, tags=[], sources=COMMUNITY) == walk(conn, 25, sources=COMMUNITY)
    assert page(conn, tags=[EMPTY_TAG], sources=COMMUNITY) == []


def test_privacy(conn: psycopg.Connection) -> None:
    everything = walk(conn, 100, sources=ALL_SOURCES, viewer=3)
    private_of_others = {
        r["id"]
        for r in conn.execute(
            "SELECT id FROM content_items_all WHERE is_private AND creator_id <> 3"
        )
    }
    own_private = {
        r["id"]
        for r in conn.execute(
            "SELECT id FROM content_items_all WHERE is_private AND creator_id = 3"
        )
    }
    assert own_private and own_private <= set(everything)
    assert not private_of_others & set(everything)


def test_defaults_browse_what_the_caller_may_see(conn: psycopg.Connection) -> None:
    """sources NULL (the default): the community sources anonymously, all four with a viewer."""
    anonymous = conn.execute("SELECT id FROM gallery_page(page_size => 100)").fetchall()
    assert [r["id"] for r in anonymous] == oracle(conn, [], "all", COMMUNITY, None)[:100]
    assert conn.execute("SELECT count(*) AS n FROM gallery_page()").fetchone()["n"] == 25
    assert walk(conn, 100, tags=[TAGS[0]], sources=None, viewer=3) == oracle(
        conn, [TAGS[0]], "all", ALL_SOURCES, 3
    )
    # a cursor from the default sources continues the same filters named explicitly
    first = page(conn, tags=[TAGS[0]], sources=None, page_size=5)
    assert page(
        conn, tags=[TAGS[0]], sources=COMMUNITY, page_size=5, cursor=first[-1]["row_cursor"]
    ) == page(conn, tags=[TAGS[0]], sources=None, page_size=5, cursor=first[-1]["row_cursor"])
    plan = conn.execute("SELECT * FROM gallery_plan(%s::uuid[])", ([TAGS[0]],)).fetchone()
    assert plan["items_in_scope"] > 0


def test_has_more_at_every_boundary(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        tags = [RARE_TAGS[0]]
        expected = oracle(c, tags, "all", COMMUNITY, None)
        size = len(expected) - 1
        assert 3 < size < 99

        def at(cursor: str | None = None, n: int = size, direction: str = "next") -> list[dict]:
            return page(
                c, tags=tags, sources=COMMUNITY, page_size=n, cursor=cursor, direction=direction
            )

        # one page exactly full: nothing follows
        whole = at(n=len(expected))
        assert [r["id"] for r in whole] == expected and not whole[0]["has_more"]
        first = at()
        assert first[0]["has_more"]
        last = at(first[-1]["row_cursor"])
        assert [r["id"] for r in last] == expected[-1:] and not last[0]["has_more"]
        back = at(last[0]["row_cursor"], direction="prev")
        assert [r["id"] for r in back] == expected[:-1] and not back[0]["has_more"]
        assert at(first[0]["row_cursor"], direction="prev") == []
        # after writes: an item newer than the first page; the last item deleted
        c.execute(
            "WITH new AS (INSERT INTO content_items_all (title, creator_id, source_type,"
            " created_at) VALUES ('newest', 1, 'auto', 'infinity') RETURNING id)"
            " INSERT INTO content_tags SELECT id, 'auto', %s FROM new",
            (tags[0],),
        )
        newer = at(first[0]["row_cursor"], n=1, direction="prev")
        assert len(newer) == 1 and not newer[0]["has_more"]
        assert at(first[0]["row_cursor"], n=len(expected), direction="prev")[0]["id"] not in (
            expected
        )
        c.execute("DELETE FROM content_items_all WHERE id = %s", (expected[-1],))
        assert at(first[-1]["row_cursor"]) == []
        assert not at(first[0]["row_cursor"], n=size - 1)[0]["has_more"]


COUNT_SQL = """
SELECT * FROM gallery_count(tags => %(tags)s::uuid[], match => %(match)s,
                            sources => %(sources)s::text[], viewer_id => %(viewer)s, cap => %(cap)s)
"""


@pytest.mark.parametrize("match", ["all", "any"])
def test_counts_are_what_the_viewer_can_page_through(conn: psycopg.Connection, match: str) -> None:
    """Exact up to the cap, "at least cap" past it; others' private items never counted."""
    for k in (0, 1, 2, 3, 5, MAX_TAGS):
        for sources, viewer in SCOPES:
            tags = k_tags(k)
            expected = len(oracle(conn, tags, match, sources, viewer))
            # a third of the count: gallery_count may find "at least cap" by a scan
            for cap in (10_000, max(1, expected // 3), max(1, expected - 1), expected + 1):
                args = {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
                got = conn.execute(COUNT_SQL, {**args, "cap": cap}).fetchone()
                if expected <= cap:
                    assert (got["items"], got["exact"]) == (expected, True), (k, sources, cap)
                else:
                    assert (got["items"], got["exact"]) == (cap, False), (k, sources, cap)
    unknown = {"tags": [TAGS[0], UNKNOWN_TAG], "sources": None, "viewer": None, "cap": 10}
    assert conn.execute(COUNT_SQL, {**unknown, "match": "all"}).fetchone()["items"] == 0
    assert conn.execute(COUNT_SQL, {**unknown, "match": "any"}).fetchone()["items"] == 10
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="cap must be between"):
        conn.execute(COUNT_SQL, {**unknown, "match": "all", "cap": 0})
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="need viewer_id"):
        conn.execute(COUNT_SQL, {**unknown, "match": "all", "sources": ["user-auto"]})


@pytest.mark.parametrize("kept", ["content_id <= 100", "content_id > 700"])
def test_counts_stay_exact_when_the_statistics_overstate_a_tag(gallery_dsn: str, kept: str) -> None:
    """The statistics (as of the last refresh) put the tag on most items; since then it
    was taken off all but the first or the last hundred. Where gallery_count first scans
    the table in its order for "at least cap", that scan finds exactly cap matches or
    too few, and the count must still be exact."""
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute(f"DELETE FROM content_tags WHERE tag_id = %s AND NOT {kept}", (TAGS[0],))
        for sources, viewer in SCOPES:
            expected = len(oracle(c, [TAGS[0]], "all", sources, viewer))
            for cap in (max(1, expected - 1), expected, expected + 1):
                args = {"tags": [TAGS[0]], "match": "all", "sources": sources, "viewer": viewer}
                got = c.execute(COUNT_SQL, {**args, "cap": cap}).fetchone()
                assert (got["items"], got["exact"]) == (min(expected, cap), expected <= cap), (
                    sources,
                    cap,
                )


@pytest.mark.parametrize("knob", [True, False])
def test_the_postings_count_knob(gallery_dsn: str, knob: bool) -> None:
    """enable_count_postings decides whether gallery_count counts from the postings where
    the sources allow (function calls tracked in the transaction); either way the counts
    are the oracle's."""
    with psycopg.connect(gallery_dsn, row_factory=dict_row) as c:
        c.execute(
            "UPDATE gallery_config SET enable_count_postings = %s, plan_memo_entries = 0", (knob,)
        )
        c.execute("SET LOCAL track_functions = 'pl'")
        for tags, match in (([TAGS[0]], "all"), (k_tags(3), "any")):
            for sources, viewer in ((ALL_SOURCES, 2), (COMMUNITY, None)):
                expected = len(oracle(c, tags, match, sources, viewer))
                args = {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
                got = c.execute(COUNT_SQL, {**args, "cap": expected + 1}).fetchone()
                assert (got["items"], got["exact"]) == (expected, True)
        calls = c.execute(
            "SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_xact_user_functions"
            " WHERE funcname = '_gallery_count_postings'"
        ).fetchone()["n"]
        assert calls == (4 if knob else 0)
        c.rollback()


POSTINGS_COUNT_SQL = """
SELECT gallery._gallery_count_postings(
           %(tags)s::uuid[], ARRAY(SELECT tag_no FROM tags WHERE id = ANY (%(tags)s::uuid[])),
           %(types)s::text[], %(viewer)s, %(limit)s, %(probes)s, %(reads)s) AS items
"""


@pytest.mark.parametrize(
    ("probes", "reads"), [(10_000, 0), (0, 10_000), (0, 0)], ids=["probes", "reads", "neither"]
)
def test_counts_from_the_postings_either_way(
    conn: psycopg.Connection, probes: int, reads: int
) -> None:
    """gallery_count's count of one tag or any of several from their postings, against the
    oracle, forced to each way of finding the viewer's own private items (an item probe per
    private posting, or the viewer's items read); with no budget for either it gives up
    (NULL: gallery_count counts another way), never answers short."""
    gave_up = 0
    for k in (1, 2, 3):
        tags = k_tags(k)
        for sources, viewer, types in (
            (COMMUNITY, None, ["items", "auto"]),
            (ALL_SOURCES, 2, ["items", "auto"]),
            (["user-auto", "community-auto"], 2, ["auto"]),
        ):
            expected = len(oracle(conn, tags, "any", sources, viewer))
            for limit in (expected + 1, max(1, expected // 2)):
                args = {"tags": tags, "types": types, "viewer": viewer, "limit": limit}
                got = conn.execute(
                    POSTINGS_COUNT_SQL, {**args, "probes": probes, "reads": reads}
                ).fetchone()["items"]
                if got is None and (probes, reads) == (0, 0) and viewer is not None:
                    gave_up += 1
                    continue
                assert got == min(expected, limit), (k, sources, limit)
    assert (gave_up > 0) == ((probes, reads) == (0, 0))


RELATED_SQL = """
SELECT * FROM related_tags(tags => %(tags)s::uuid[], match => %(match)s,
                           sources => %(sources)s::text[], viewer_id => %(viewer)s,
                           max_tags => %(max_tags)s, sample => %(sample)s)
"""
RELATED_ORACLE_SQL = """
SELECT t.id AS tag_id, count(*) AS items
  FROM unnest(%(ids)s::bigint[]) AS m(id)
  JOIN content_tags ct ON ct.content_id = m.id
  JOIN tags t ON t.id = ct.tag_id
 WHERE t.id <> ALL (%(tags)s::uuid[])
 GROUP BY t.id, t.name ORDER BY count(*) DESC, t.name LIMIT %(max_tags)s
"""


@pytest.mark.parametrize("match", ["all", "any"])
def test_related_tags_count_the_newest_matches(conn: psycopg.Connection, match: str) -> None:
    """Against the tags of the oracle's newest matches: others' private items never count.
    related_tags reads the matches the way the planner would read a page of `sample`
    rows: each way is taken by some of these filters."""
    facets = 0
    read_by = set()
    filters = (
        [],
        [TAGS[0]],
        [TAGS[5]],
        [TAGS[0], TAGS[5]],
        [TAGS[10], TAGS[14]],
        k_tags(3),
        RARE_TAGS,
    )
    for tags in filters:
        for sources, viewer in SCOPES:
            matches = oracle(conn, tags, match, sources, viewer)
            for sample in (10_000, 30):
                read_by.add(
                    conn.execute(
                        "SELECT strategy FROM _gallery_choose_for(%s::uuid[], %s, %s::text[], %s)",
                        (tags, match, sources, sample),
                    ).fetchone()["strategy"]
                )
                args = {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
                got = conn.execute(
                    RELATED_SQL, {**args, "max_tags": 8, "sample": sample}
                ).fetchall()
                counted = matches[:sample]
                expected = conn.execute(
                    RELATED_ORACLE_SQL, {"ids": counted, "tags": tags, "max_tags": 8}
                ).fetchall()
                assert [(str(r["tag_id"]), r["items"]) for r in got] == [
                    (str(r["tag_id"]), r["items"]) for r in expected
                ], (tags, sources, sample)
                assert all(r["sampled_items"] == len(counted) for r in got)
                assert all(r["exact"] == (len(matches) < sample) for r in got)
                facets += len(got)
    assert facets > 100
    assert read_by == set(ALL_STRATEGIES if match == "all" else ANY_STRATEGIES)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_tags must be between"):
        conn.execute(
            RELATED_SQL,
            {
                "tags": [],
                "match": match,
                "sources": None,
                "viewer": None,
                "max_tags": 0,
                "sample": 10,
            },
        )


@pytest.mark.parametrize("match", ["all", "any"])
def test_related_tags_default_sample_is_bounded_by_links(gallery_dsn: str, match: str) -> None:
    """With sample NULL (the default) related_tags counts the newest matches (at most 1,000)
    before the one whose tags pass gallery_config.related_tags_max_links, at least one;
    exact only when that is every match. The knob is set low so that the bound cuts."""
    budget = 40
    cut = 0
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute("UPDATE gallery_config SET related_tags_max_links = %s", (budget,))
        for tags in ([], [TAGS[0]], [TAGS[0], TAGS[5]], RARE_TAGS, [EMPTY_TAG]):
            for sources, viewer in SCOPES:
                matches = oracle(c, tags, match, sources, viewer)
                sizes = {
                    r["id"]: r["n"]
                    for r in c.execute(
                        "SELECT id, cardinality(tag_nos) AS n FROM content_items_all"
                        " WHERE id = ANY (%s)",
                        (matches,),
                    )
                }
                counted: list[int] = []
                links = 0
                for item in matches[:1000]:
                    if links >= budget:
                        break
                    counted.append(item)
                    links += sizes[item]
                cut += len(counted) < len(matches)
                args = {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
                got = c.execute(RELATED_SQL, {**args, "max_tags": 8, "sample": None}).fetchall()
                expected = c.execute(
                    RELATED_ORACLE_SQL, {"ids": counted, "tags": tags, "max_tags": 8}
                ).fetchall()
                assert [(str(r["tag_id"]), r["items"]) for r in got] == [
                    (str(r["tag_id"]), r["items"]) for r in expected
                ], (tags, sources)
                assert all(r["sampled_items"] == len(counted) for r in got)
                assert all(r["exact"] == (counted == matches) for r in got)
    assert cut > 10


def test_row_columns(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT * FROM gallery_page(page_size => 1, sources => %s::text[])", (COMMUNITY,)
    ).fetchone()
    assert list(row) == [
        "id",
        "source_type",
        "created_at",
        "creator_id",
        "title",
        "content_type",
        "content_data",
        "path_thumb",
        "path_thumbs_alt_res",
        "prompt",
        "item_metadata",
        "is_private",
        "quality_score",
        "updated_at",
        "row_cursor",
        "has_more",
    ]
    item = conn.execute("SELECT * FROM content_items_all WHERE id = %s", (row["id"],)).fetchone()
    assert {k: row[k] for k in item if k in row} == {k: item[k] for k in item if k in row}


def test_positional_call_order(conn: psycopg.Connection) -> None:
    first = conn.execute(
        "SELECT id, row_cursor FROM gallery_page(%s::uuid[], NULL, 5, 'all', %s::text[])",
        ([TAGS[0]], COMMUNITY),
    ).fetchall()
    second = conn.execute(
        "SELECT id FROM gallery_page(%s::uuid[], %s, 5, 'all', %s::text[])",
        ([TAGS[0]], first[-1]["row_cursor"], COMMUNITY),
    ).fetchall()
    expected = oracle(conn, [TAGS[0]], "all", COMMUNITY, None)
    assert [r["id"] for r in first + second] == expected[:10]


BAD_CALLS = [
    ({"page_size": 0}, "page_size must be between 1 and 100"),
    ({"page_size": 101}, "page_size must be between 1 and 100"),
    ({"page_size": None}, "page_size"),
    ({"match": "some"}, "match must be 'all' or 'any'"),
    ({"match": None}, "match must be"),
    ({"direction": "up"}, "direction must be 'next' or 'prev'"),
    ({"direction": "prev"}, "direction 'prev' needs a cursor"),
    ({"sources": []}, "sources must name at least one source"),
    ({"sources": ["community-regular", "everyone"]}, "sources contains 'everyone'"),
    ({"sources": ["community-regular", None]}, "sources contains NULL"),
    ({"sources": ["user-regular"]}, "need viewer_id"),
    ({"tags": [TAGS[0], None]}, "tags must not contain NULL"),
    (
        {"tags": [f"00000000-0000-0000-0000-{n:012d}" for n in range(100, 121)]},
        "tags has 21 distinct tags, more than the 20 allowed",
    ),
    ({"strategy": "fastest"}, "strategy must be one of"),
    ({"strategy": "tag_walk"}, "strategy tag_walk needs tags"),
    ({"cursor": "not a cursor"}, "cursor is not a gallery_page cursor"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_input_is_22023_with_message_and_hint(
    conn: psycopg.Connection, kwargs: dict, message: str
) -> None:
    args = {"sources": COMMUNITY, **kwargs}
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        page(conn, **args)
    assert message in raised.value.diag.message_primary
    assert raised.value.diag.message_hint
    assert raised.value.diag.sqlstate == "22023"


def test_a_cursor_belongs_to_its_viewer(conn: psycopg.Connection) -> None:
    rows = page(conn, sources=ALL_SOURCES, viewer=1, page_size=5)
    assert page(conn, sources=ALL_SOURCES, viewer=1, page_size=5, cursor=rows[-1]["row_cursor"])
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="other filters"):
        page(conn, sources=ALL_SOURCES, viewer=2, page_size=5, cursor=rows[-1]["row_cursor"])


def test_a_new_cursor_secret_retires_every_cursor(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        cursor = page(c, sources=COMMUNITY, page_size=5)[-1]["row_cursor"]
        c.execute("UPDATE gallery_config SET cursor_secret = 'another secret, long enough'")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="altered"):
            page(c, sources=COMMUNITY, page_size=5, cursor=cursor)
        fresh = page(c, sources=COMMUNITY, page_size=5)[-1]["row_cursor"]
        assert page(c, sources=COMMUNITY, page_size=5, cursor=fresh)


def test_cursor_must_match_filters_and_be_intact(conn: psycopg.Connection) -> None:
    rows = page(conn, tags=[TAGS[0]], sources=COMMUNITY, page_size=5)
    cursor = rows[-1]["row_cursor"]
    assert page(conn, tags=[TAGS[0]], sources=COMMUNITY, page_size=5, cursor=cursor)
    for other in (
        {"tags": [TAGS[1]]},
        {"match": "any"},
        {"sources": ["community-auto"]},
        {"sources": ALL_SOURCES, "viewer": 1},
    ):
        args = {"tags": [TAGS[0]], "sources": COMMUNITY, "page_size": 5, **other}
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="other filters"):
            page(conn, cursor=cursor, **args)
    # page_size and direction are not filters: a cursor serves any page size
    assert page(conn, tags=[TAGS[0]], sources=COMMUNITY, page_size=7, cursor=cursor)

    parts = cursor.split(".")
    altered_id = ".".join([*parts[:2], str(int(parts[2]) - 1), *parts[3:]])
    other_version = ".".join(["g9", *parts[1:]])
    earlier_release = base64.urlsafe_b64encode("|".join(["g1", *parts[1:]]).encode()).decode()
    variants = {
        "truncated": (cursor[:-4], "corrupted"),
        "altered": (altered_id, "corrupted"),
        "version": (other_version, "incompatible"),
        "earlier release": (earlier_release, r"incompatible version \(g1\)"),
        "garbage": ("!!!", "not a gallery_page cursor"),
        "empty": ("", "not a gallery_page cursor"),
    }
    for name, (bad, message) in variants.items():
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message) as raised:
            page(conn, tags=[TAGS[0]], sources=COMMUNITY, page_size=5, cursor=bad)
        assert "first page" in raised.value.diag.message_hint, name


@pytest.mark.parametrize("function", ["gallery_page", "gallery_explain"])
def test_planner_settings_are_set_for_the_call_only(
    conn: psycopg.Connection, function: str
) -> None:
    """work_mem, and the scan, sort and memoize switches a page turns off, come back."""
    caller = {
        "work_mem": "1234kB",
        "enable_seqscan": "off",
        "enable_bitmapscan": "on",
        "enable_sort": "on",
        "enable_memoize": "on",
    }
    with conn.transaction():
        for name, value in caller.items():
            conn.execute(f"SET LOCAL {name} = '{value}'")
        call = f"SELECT * FROM {function}(%s::uuid[], sources => %s::text[], strategy => %s)"
        conn.execute(call, ([TAGS[0]], COMMUNITY, "order_first")).fetchall()
        for name, value in caller.items():
            assert conn.execute(f"SHOW {name}").fetchone()[name] == value, name


@pytest.mark.parametrize("function", ["gallery_count", "related_tags"])
def test_scan_settings_of_counts_and_facets_are_set_for_the_call_only(
    conn: psycopg.Connection, function: str
) -> None:
    """The scans they turn off for their reading, and parallel query, come back (counts:
    a scan, or the GIN index; facets: each of the planner's ways of reading, which these
    filters all take)."""
    caller = {
        "enable_seqscan": "on",
        "enable_bitmapscan": "on",
        "enable_indexscan": "on",
        "max_parallel_workers_per_gather": "2",
    }
    size = "cap" if function == "gallery_count" else "sample"
    rows = 21  # read: cap + 1, or sample
    read_by = set()
    with conn.transaction():
        for name, value in caller.items():
            conn.execute(f"SET LOCAL {name} = '{value}'")
        for tags in ([TAGS[0]], [TAGS[5]], RARE_TAGS):
            read_by.add(
                conn.execute(
                    "SELECT strategy FROM _gallery_choose_for(%s::uuid[], 'all', %s::text[], %s)",
                    (tags, COMMUNITY, rows),
                ).fetchone()["strategy"]
            )
            conn.execute(
                f"SELECT * FROM {function}(%s::uuid[], sources => %s::text[], {size} => %s)",
                (tags, COMMUNITY, rows - 1 if function == "gallery_count" else rows),
            ).fetchall()
            for name, value in caller.items():
                assert conn.execute(f"SHOW {name}").fetchone()[name] == value, (name, tags)
    if function == "related_tags":
        assert read_by == {"order_first", "tag_walk", "tag_array"}


def test_telemetry_is_sampled_and_never_fails_the_call(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute("UPDATE gallery_config SET telemetry_sample_rate = 1")
        page(c, tags=[TAGS[0], RARE_TAGS[2]], sources=COMMUNITY)
        page(c, tags=[TAGS[0]], sources=COMMUNITY, strategy="order_first")
        rows = c.execute("SELECT * FROM gallery_telemetry ORDER BY called_at").fetchall()
        assert [(r["k"], r["forced"]) for r in rows] == [(2, False), (1, True)]
        assert rows[1]["strategy"] == "order_first" and rows[0]["duration_ms"] > 0
        summary = c.execute("SELECT * FROM gallery_telemetry_summary").fetchall()
        assert sum(r["calls"] for r in summary) == 2
        c.execute("ALTER TABLE gallery_telemetry ADD CONSTRAINT refuse CHECK (false) NOT VALID")
        assert page(c, tags=[TAGS[0]], sources=COMMUNITY)
        c.execute("UPDATE gallery_config SET telemetry_sample_rate = 0")
        c.execute("ALTER TABLE gallery_telemetry DROP CONSTRAINT refuse")
        page(c, tags=[TAGS[0]], sources=COMMUNITY)
        assert c.execute("SELECT count(*) AS n FROM gallery_telemetry").fetchone()["n"] == 2
        # a ring of telemetry_max_rows: the newest calls replace the oldest
        c.execute("UPDATE gallery_config SET telemetry_sample_rate = 1, telemetry_max_rows = 3")
        for k in range(1, 6):
            page(c, tags=TAGS[:k], sources=COMMUNITY)
        kept = c.execute("SELECT k FROM gallery_telemetry ORDER BY called_at, k").fetchall()
        assert [r["k"] for r in kept] == [3, 4, 5]


def test_telemetry_never_waits_for_a_transaction_holding_its_slot(gallery_dsn: str) -> None:
    """A ring of one slot: a caller whose sampled call wrote it stays in its transaction;
    another caller's sampled call skips its sample instead of waiting for it."""
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute("UPDATE gallery_config SET telemetry_sample_rate = 1, telemetry_max_rows = 1")
        page(c, tags=[TAGS[0]], sources=COMMUNITY)  # the slot's row exists
        with psycopg.connect(gallery_dsn, row_factory=dict_row) as holder:
            page(holder, tags=[TAGS[0], TAGS[1]], sources=COMMUNITY)  # holds it, uncommitted
            c.execute("SET statement_timeout = '5s'")  # (WHEN OTHERS does not catch it)
            assert page(c, tags=[TAGS[0], TAGS[1], TAGS[2]], sources=COMMUNITY)
            holder.commit()
        assert [r["k"] for r in c.execute("SELECT k FROM gallery_telemetry")] == [2]
        page(c, tags=[TAGS[0], TAGS[1], TAGS[2]], sources=COMMUNITY)
        assert [r["k"] for r in c.execute("SELECT k FROM gallery_telemetry")] == [3]


def plan_of(conn: psycopg.Connection, tags: list[str], match: str = "all") -> dict:
    return conn.execute(
        "SELECT * FROM gallery_plan(%s::uuid[], %s, %s::text[])", (tags, match, COMMUNITY)
    ).fetchone()


def cheapest(plan: dict) -> str:
    """The allowed strategy with the lowest estimated cost (costs: null = not allowed)."""
    allowed = {s: c for s, c in plan["costs"].items() if c is not None}
    return min(allowed, key=lambda s: (allowed[s], s))


def test_planner_picks_the_cheapest_estimate(conn: psycopg.Connection) -> None:
    assert plan_of(conn, [])["strategy"] == "order_first"
    dense = plan_of(conn, TAGS[:2])
    assert dense["strategy"] == "order_first" and dense["k"] == 2  # matches everywhere
    rare = plan_of(conn, [TAGS[0], RARE_TAGS[0]])  # tag21 is on ~2% of items
    assert rare["strategy"] != "order_first"
    assert str(rare["tag_ids"][0]) == RARE_TAGS[0] and rare["rarest_count"] == min(
        rare["tag_counts"]
    )
    for tags, match in (
        ([], "all"),
        (TAGS[:2], "all"),
        ([TAGS[0], RARE_TAGS[0]], "all"),
        ([RARE_TAGS[2], *TAGS[:5]], "all"),
        ([RARE_TAGS[0], RARE_TAGS[1]], "any"),
        (TAGS[:2], "any"),
    ):
        plan = plan_of(conn, tags, match)
        assert plan["strategy"] == cheapest(plan), (tags, match, plan["costs"])
        assert "by estimate" in plan["reason"] or not tags
        assert not plan["stats_stale"]


def test_planner_knobs(gallery_dsn: str) -> None:
    rare_pair = [TAGS[0], RARE_TAGS[0]]
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        for knob, strategy in (
            ("enable_tag_array", "tag_array"),
            ("enable_tag_walk", "tag_walk"),
            ("enable_tag_merge", "tag_merge"),
            ("enable_order_first", "order_first"),
        ):
            c.execute(f"UPDATE gallery_config SET {knob} = false")
            for tags, match in ((rare_pair, "all"), (TAGS[:2], "all"), (RARE_TAGS[:2], "any")):
                plan = plan_of(c, tags, match)
                assert plan["costs"].get(strategy) is None and plan["strategy"] != strategy
                assert plan["strategy"] == cheapest(plan)
            c.execute(f"UPDATE gallery_config SET {knob} = true")
        # the cap never rules tag_array out: past it tag_array's estimate adds tag_walk's
        # (the page it switches to)
        uncapped = plan_of(c, rare_pair)
        c.execute("UPDATE gallery_config SET seed_candidate_cap = 1")
        capped = plan_of(c, rare_pair)
        assert capped["estimated_candidates"] > 1
        assert capped["costs"]["tag_array"] > capped["costs"]["tag_walk"]
        assert capped["costs"]["tag_array"] != uncapped["costs"]["tag_array"]
        c.execute("UPDATE gallery_config SET enable_tag_walk = false, enable_order_first = false")
        assert plan_of(c, rare_pair)["strategy"] == "tag_array"
        c.execute("UPDATE gallery_config SET enable_tag_array = false, enable_tag_merge = false")
        assert plan_of(c, rare_pair)["strategy"] == "tag_array"  # none left: tag_array
        c.execute(
            "UPDATE gallery_config SET seed_candidate_cap = DEFAULT, enable_tag_walk = true,"
            " enable_order_first = true, enable_tag_array = true, enable_tag_merge = true"
        )
        c.execute("DELETE FROM tag_cardinality_stats")
        stale = plan_of(c, TAGS[:2])
        assert stale["stats_stale"] and "gallery_stats_refresh" in stale["reason"]
        assert stale["tag_counts"] == [1000000, 1000000]  # fallback_default_count
        # whatever the statistics say, the answer is the oracle's
        assert walk(c, 25, tags=TAGS[:2], sources=COMMUNITY) == oracle(
            c, TAGS[:2], "all", COMMUNITY, None
        )


@pytest.mark.parametrize("cap", [1, 40])
@pytest.mark.parametrize(
    ("tags", "match"), [(k_tags(2), "all"), (k_tags(3), "any")], ids=["all", "any"]
)
def test_tag_array_past_its_cap_gives_tag_walks_pages(
    gallery_dsn: str, cap: int, tags: list[str], match: str
) -> None:
    """tag_array reads at most seed_candidate_cap matches in scope and, past them, returns
    tag_walk's page: the oracle's either way, whichever side of the cap a scope falls."""
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        sides = set()
        try:
            c.execute("UPDATE gallery_config SET seed_candidate_cap = %s", (cap,))
            for sources, viewer in SCOPES:
                expected = oracle(c, tags, match, sources, viewer)
                sides.add(len(expected) > cap)
                got = walk(
                    c,
                    7,
                    tags=tags,
                    match=match,
                    sources=sources,
                    viewer=viewer,
                    strategy="tag_array",
                )
                assert got == expected, (sources, viewer)
        finally:
            c.execute("UPDATE gallery_config SET seed_candidate_cap = DEFAULT")
        assert sides == ({True, False} if cap == 40 else {True}), "a side of the cap not tried"


@pytest.mark.parametrize(
    ("setting", "constraint"),
    [
        ("seed_candidate_cap = 0", "seed_candidate_cap_range"),
        ("max_work_mem_mb = 100000", "max_work_mem_mb_range"),
        ("telemetry_sample_rate = 1.5", "telemetry_sample_rate_range"),
        ("max_tags = 0", "max_tags_range"),
        ("related_tags_max_links = 0", "related_tags_max_links_range"),
        ("telemetry_max_rows = 0", "telemetry_max_rows_range"),
    ],
)
def test_bad_knob_values_are_rejected_on_write(
    gallery_dsn: str, setting: str, constraint: str
) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
            c.execute(f"UPDATE gallery_config SET {setting}")
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute("INSERT INTO gallery_config DEFAULT VALUES")


def test_explain_shows_the_decision_and_the_plan(conn: psycopg.Connection) -> None:
    lines = [
        r["gallery_explain"]
        for r in conn.execute(
            "SELECT * FROM gallery_explain(%s::uuid[], sources => %s::text[])",
            ([TAGS[0], RARE_TAGS[0]], COMMUNITY),
        )
    ]
    assert lines[0].startswith("strategy: tag_array (")
    assert any("Execution Time" in line for line in lines)
    assert any("tag_nos @>" in line for line in lines)
    forced = [
        r["gallery_explain"]
        for r in conn.execute(
            "SELECT * FROM gallery_explain(%s::uuid[], sources => %s::text[],"
            " strategy => 'order_first', measure => false)",
            ([TAGS[0]], COMMUNITY),
        )
    ]
    assert forced[0].startswith("strategy: order_first (forced by the strategy argument;")
    assert not any("Execution Time" in line for line in forced)
    assert any("created_at_id_idx" in line for line in forced)  # the walk's plan
    # the statement gallery_explain prepares is gone, whatever the caller had prepared
    conn.execute("PREPARE callers_own AS SELECT 1")
    conn.execute(
        "SELECT * FROM gallery_explain(%s::uuid[], sources => %s::text[])", ([TAGS[0]], COMMUNITY)
    ).fetchall()
    prepared = {r["name"] for r in conn.execute("SELECT name FROM pg_prepared_statements")}
    assert "callers_own" in prepared and "gallery_explained" not in prepared
    conn.execute("DEALLOCATE callers_own")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="page_size"):
        conn.execute("SELECT * FROM gallery_explain(page_size => 0)")
