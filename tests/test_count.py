"""gallery_count's estimate mode and what the facet functions count, against exact counts,
on data with strong co-occurrence and uneven privacy; what a viewer is told never reflects
other users' private items."""

from __future__ import annotations

import itertools
import uuid

import psycopg
import pytest
from psycopg.rows import dict_row

ALL_SOURCES = ["user-regular", "user-auto", "community-regular", "community-auto"]
OWN = ["user-regular", "user-auto"]
SCOPES: list[tuple[list[str] | None, int | None]] = [
    (None, None),
    (ALL_SOURCES, 3),
    (["community-auto"], 3),
    (OWN, 1),
]
TAG = {name: uuid.UUID(int=n) for n, name in enumerate(["a", "b", "c", "d", "e", "f"], 1)}

# 6,000 items, 10 users (user 1 has a third of them). Tags: a on 30%; b on 90% of a's
# items and 3% of the others (lift ~3); c on 25%, nearly never with a (lift ~0.05);
# d on 20%, 80% of its items private where 5% of the rest are; e on 2% (rare); f on 50%.
CORRELATED_DATA_SQL = """
INSERT INTO users (id, username) SELECT g, 'user' || g FROM generate_series(1, 10) g;
INSERT INTO tags (id, name) VALUES
  ('00000000-0000-0000-0000-000000000001', 'a'), ('00000000-0000-0000-0000-000000000002', 'b'),
  ('00000000-0000-0000-0000-000000000003', 'c'), ('00000000-0000-0000-0000-000000000004', 'd'),
  ('00000000-0000-0000-0000-000000000005', 'e'), ('00000000-0000-0000-0000-000000000006', 'f');
CREATE TEMP TABLE draw AS
SELECT g, (hashint4(g) & 1023) / 1024.0 AS ra, (hashint4(g + 1000000) & 1023) / 1024.0 AS rb,
       (hashint4(g + 2000000) & 1023) / 1024.0 AS rc, (hashint4(g + 3000000) & 1023) / 1024.0 AS rd,
       (hashint4(g + 4000000) & 1023) / 1024.0 AS re, (hashint4(g + 5000000) & 1023) / 1024.0 AS rf,
       (hashint4(g + 6000000) & 1023) / 1024.0 AS rp
  FROM generate_series(1, 6000) g;
INSERT INTO content_items_all (id, title, creator_id, source_type, is_private, created_at)
SELECT g, 'item ' || g, CASE WHEN g % 3 = 0 THEN 1 ELSE 2 + g % 9 END,
       CASE WHEN g % 4 = 0 THEN 'items' ELSE 'auto' END,
       rp < CASE WHEN rd < 0.2 THEN 0.8 ELSE 0.05 END,
       timestamptz '2025-01-01' + g * interval '1 minute'
  FROM draw;
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT i.id, i.source_type, t.id
  FROM draw x JOIN content_items_all i ON i.id = x.g
  JOIN tags t ON CASE t.name
                  WHEN 'a' THEN x.ra < 0.3
                  WHEN 'b' THEN CASE WHEN x.ra < 0.3 THEN x.rb < 0.9 ELSE x.rb < 0.03 END
                  WHEN 'c' THEN CASE WHEN x.ra < 0.3 THEN x.rc < 0.015 ELSE x.rc < 0.35 END
                  WHEN 'd' THEN x.rd < 0.2
                  WHEN 'e' THEN x.re < 0.02
                  WHEN 'f' THEN x.rf < 0.5 END;
"""
# tag_nos is written at commit: refresh in a transaction of its own, then draw a sample of
# about a tenth of the items, so that the estimate has something to bound
REFRESH_SQL = [
    "ANALYZE",
    "SELECT gallery.gallery_stats_refresh()",
    "SELECT gallery._gallery_stats_sample(p_sample_rows => 600)",
]

COUNT_SQL = """
SELECT * FROM gallery.gallery_count(tags => %(tags)s::uuid[], match => %(match)s,
                                    sources => %(sources)s::text[], viewer_id => %(viewer)s,
                                    cap => 1000000, mode => %(mode)s)
"""


@pytest.fixture
def correlated(gallery_dsn: str) -> psycopg.Connection:
    """The gallery database emptied and filled with CORRELATED_DATA_SQL."""
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("DELETE FROM content_items_all; DELETE FROM tags; DELETE FROM users")
        conn.execute(CORRELATED_DATA_SQL)
        for statement in REFRESH_SQL:
            conn.execute(statement)
        yield conn


def _filters() -> list[tuple[list[uuid.UUID], str]]:
    names = list(TAG)
    ones = [([TAG[n]], "all") for n in names]
    pairs = [
        ([TAG[x], TAG[y]], m) for x, y in itertools.combinations(names, 2) for m in ("all", "any")
    ]
    triples = [
        ([TAG["a"], TAG["b"], TAG["f"]], "all"),
        ([TAG["b"], TAG["d"], TAG["f"]], "all"),
        ([TAG["c"], TAG["d"], TAG["e"]], "any"),
    ]
    return [([], "all"), *ones, *pairs, *triples]


def _count(
    conn: psycopg.Connection,
    tags: list[uuid.UUID],
    match: str,
    sources: list[str] | None,
    viewer: int | None,
    mode: str,
) -> dict:
    args = {"tags": tags, "match": match, "sources": sources, "viewer": viewer, "mode": mode}
    return conn.execute(COUNT_SQL, args).fetchone()


def test_the_data_has_strong_co_occurrence(correlated: psycopg.Connection) -> None:
    def n(*names: str, match: str = "all") -> int:
        return _count(
            correlated,
            [TAG[x] for x in names],
            match,
            ["community-regular", "community-auto", "user-regular", "user-auto"],
            1,
            "exact",
        )["items"]

    everything = n()
    a, b, c, ab, ac = n("a"), n("b"), n("c"), n("a", "b"), n("a", "c")
    assert ab / (a * b / everything) > 2.5  # b goes with a
    assert ac / (a * c / everything) < 0.1  # c avoids a
    assert (
        correlated.execute(
            "SELECT count(*) FILTER (WHERE dimension = 'tag') AS tags, min(length(bits)) AS m"
            "  FROM count_sample_bits"
        ).fetchone()["m"]
        < 1000
    )  # sampled, not every item


def test_the_estimate_is_within_its_stated_bound(correlated: psycopg.Connection) -> None:
    """~95% intervals: at least 90% of these cases inside (the sample is fixed, so the
    result is too)."""
    cases = held = 0
    misses = []
    for (tags, match), (sources, viewer) in itertools.product(_filters(), SCOPES):
        exact = _count(correlated, tags, match, sources, viewer, "exact")
        est = _count(correlated, tags, match, sources, viewer, "estimate")
        assert exact["exact"]
        assert est["low"] <= est["items"] <= est["high"], (tags, match, sources, est)
        if est["exact"]:  # counted: few matches
            assert est["items"] == exact["items"]
            continue
        cases += 1
        if est["low"] <= exact["items"] <= est["high"]:
            held += 1
        else:
            misses.append((tags, match, sources, exact["items"], dict(est)))
    assert cases > 80
    assert held >= 0.9 * cases, "\n".join(map(str, misses))
    # the pairs that go together or avoid each other: the truth is inside the interval,
    # and what independence predicts (the tags' shares times the visible items) is not
    for pair in ([TAG["a"], TAG["b"]], [TAG["a"], TAG["c"]]):
        exact = _count(correlated, pair, "all", None, None, "exact")["items"]
        est = _count(correlated, pair, "all", None, None, "estimate")
        visible = _count(correlated, [], "all", None, None, "exact")["items"]
        shares = [
            correlated.execute(
                "SELECT count(*)::float8 / (SELECT count(*) FROM content_items_all) AS p"
                "  FROM content_tags WHERE tag_id = %s",
                (tag,),
            ).fetchone()["p"]
            for tag in pair
        ]
        independence = visible * shares[0] * shares[1]
        assert est["low"] <= exact <= est["high"], (pair, exact, est)
        assert not est["low"] <= independence <= est["high"], (pair, independence, est)


def test_the_estimate_counts_what_the_viewer_may_see(correlated: psycopg.Connection) -> None:
    """d's items are mostly private: a global public share would overcount them."""
    exact = _count(correlated, [TAG["d"]], "all", None, None, "exact")["items"]
    est = _count(correlated, [TAG["d"]], "all", None, None, "estimate")
    everything = correlated.execute(
        "SELECT count(*) AS n FROM content_tags WHERE tag_id = %s", (TAG["d"],)
    ).fetchone()["n"]
    assert exact < 0.3 * everything
    assert est["low"] <= exact <= est["high"] and est["high"] < 0.5 * everything
    # nobody else's private item: make every item of tag d private to user 1 and count
    correlated.execute(
        "UPDATE content_items_all SET is_private = true, creator_id = 1"
        " WHERE id IN (SELECT content_id FROM content_tags WHERE tag_id = %s)",
        (TAG["d"],),
    )
    correlated.execute("SELECT gallery._gallery_stats_sample(p_sample_rows => 600)")
    for mode in ("exact", "estimate"):
        for sources, viewer in ((None, None), (ALL_SOURCES, 2), (["community-auto"], 1)):
            for tags, match in (([TAG["d"]], "all"), ([TAG["d"], TAG["f"]], "all")):
                got = _count(correlated, tags, match, sources, viewer, mode)
                assert (got["items"], got["low"]) == (0, 0), (mode, sources, tags, got)
        own = _count(correlated, [TAG["d"]], "all", OWN, 1, mode)
        assert own["low"] <= everything <= own["high"], (mode, own)
    related = correlated.execute(
        "SELECT tag_id FROM gallery.related_tags(tags => %s::uuid[], max_tags => 10)",
        ([TAG["f"]],),
    ).fetchall()
    assert TAG["d"] not in {r["tag_id"] for r in related}


def test_mode_is_checked(correlated: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="mode must be") as err:
        _count(correlated, [], "all", None, None, "fast")
    assert err.value.diag.message_hint
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="mode must be"):
        _count(correlated, [], "all", None, None, None)  # type: ignore[arg-type]


def test_without_a_sample_the_estimate_counts(correlated: psycopg.Connection) -> None:
    correlated.execute("DELETE FROM count_sample_bits")
    got = _count(correlated, [TAG["a"]], "all", None, None, "estimate")
    exact = _count(correlated, [TAG["a"]], "all", None, None, "exact")
    assert dict(got) == dict(exact) and got["exact"]


FACETS = {
    "popular_tags": "SELECT tag_id, item_count AS n FROM gallery.popular_tags(max_tags => 10)",
    "tag_search": "SELECT tag_id, item_count AS n FROM gallery.tag_search('d', max_tags => 5)",
    "tag_counts": "SELECT tag_id, total AS n FROM gallery.tag_counts(tag_ids => %(tags)s::uuid[])",
}


@pytest.mark.parametrize("facet", sorted(FACETS))
def test_facets_need_no_quoting_and_count_every_item(
    correlated: psycopg.Connection, facet: str
) -> None:
    """Named parameters without quotes; the counts are every item carrying the tag
    (private ones included) at the last refresh, as documented: an upper bound of
    what a viewer can page through, never below it."""
    rows = correlated.execute(FACETS[facet], {"tags": [TAG["d"]]}).fetchall()
    got = {r["tag_id"]: r["n"] for r in rows}
    assert TAG["d"] in got
    links = correlated.execute(
        "SELECT count(*) AS n FROM content_tags WHERE tag_id = %s", (TAG["d"],)
    ).fetchone()["n"]
    visible = _count(correlated, [TAG["d"]], "all", ALL_SOURCES, 1, "exact")["items"]
    assert got[TAG["d"]] == links >= visible
