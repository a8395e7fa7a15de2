"""The plan memo (gallery_plan_memo): a kept plan gives exactly the pages a fresh one gives,
for every viewer; writes to tags, the statistics and the knobs, and time, outdate it, writes
to items do not; a tag that did not exist is never kept as missing, a deleted one matches
nothing; a forced strategy is part of the key; read-only transactions neither use nor keep
plans; the memo stays within plan_memo_entries; a reader storing a plan never waits for
another session."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.test_gallery import ALL_SOURCES, COMMUNITY, RARE_TAGS, TAGS, oracle, page, walk

ENTRIES = "SELECT count(*) AS n FROM gallery_plan_memo"
NEW_TAG = "00000000-0000-0000-0000-0000000000aa"


@pytest.fixture
def conn(gallery_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        yield c


def stored(c: psycopg.Connection) -> int:
    """Plans stored so far (each call that found no valid plan stores one)."""
    row = c.execute(ENTRIES).fetchone()
    assert row is not None
    return int(row["n"])


def stores(c: psycopg.Connection, **kwargs: object) -> tuple[list[dict], int]:
    """The page, and how many plans the call stored (0: it used a kept one)."""
    before = stored(c)
    rows = page(c, **kwargs)
    return rows, stored(c) - before


@pytest.mark.parametrize(
    ("tags", "match", "sources"),
    [
        ([], "all", ALL_SOURCES),
        ([TAGS[0]], "all", ALL_SOURCES),
        ([TAGS[1], TAGS[0], TAGS[1]], "all", ["user-auto", "community-regular"]),
        ([TAGS[10], RARE_TAGS[0], TAGS[0]], "any", ALL_SOURCES),
    ],
)
def test_a_kept_plan_gives_the_pages_of_a_fresh_one_for_every_viewer(
    conn: psycopg.Connection, tags: list[str], match: str, sources: list[str]
) -> None:
    """Walked forward and back by two viewers with the memo (the first walk's first call
    plans, every later call uses that plan) and without it: the same rows and cursors; the
    memo's key leaves the viewer out, the cursors do not."""
    conn.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    fresh = {v: walk(conn, 4, tags=tags, match=match, sources=sources, viewer=v) for v in (2, 3)}
    first = {v: page(conn, tags=tags, match=match, sources=sources, viewer=v) for v in (2, 3)}
    assert stored(conn) == 0
    conn.execute("UPDATE gallery_config SET plan_memo_entries = 100")
    for viewer in (2, 3):
        filters = {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
        assert walk(conn, 4, **filters) == fresh[viewer]
        assert walk(conn, 4, **filters) == oracle(conn, tags, match, sources, viewer)
        # page_size 25: planned for viewer 2, kept for viewer 3
        rows, plans = stores(conn, tags=tags, match=match, sources=sources, viewer=viewer)
        assert (rows, plans) == (first[viewer], 1 if viewer == 2 else 0)
    assert stored(conn) == 2  # one plan for the walks (page_size 4), one for page_size 25
    # a cursor of viewer 2's page is not viewer 3's
    cursor = first[2][0]["row_cursor"] if first[2] else None
    if cursor is not None:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            page(conn, tags=tags, match=match, sources=sources, viewer=3, cursor=cursor)


@pytest.mark.parametrize(
    ("write", "outdates"),
    [
        (f"INSERT INTO tags (id, name) VALUES ('{NEW_TAG}', 'memo-new-tag')", True),
        ("SELECT gallery_stats_refresh()", True),
        ("UPDATE tag_pair_stats SET lift = lift WHERE false", True),  # a statement, no row
        ("DELETE FROM tag_cardinality_stats WHERE false", True),
        ("UPDATE gallery_config SET telemetry_sample_rate = telemetry_sample_rate", True),
        ("UPDATE content_items_all SET title = 'memo' WHERE id = 1", False),
        (
            f"INSERT INTO content_tags (content_id, content_source, tag_id)"
            f" SELECT id, source_type, '{RARE_TAGS[1]}' FROM content_items_all"
            f" WHERE NOT tag_nos @> ARRAY[(SELECT tag_no FROM tags WHERE id = '{RARE_TAGS[1]}')]"
            f" ORDER BY id LIMIT 3",
            False,
        ),
    ],
)
def test_writes_to_tags_statistics_and_knobs_outdate_kept_plans_item_writes_do_not(
    conn: psycopg.Connection, write: str, outdates: bool
) -> None:
    filters = {"tags": [TAGS[0], RARE_TAGS[1]], "match": "any", "sources": COMMUNITY}
    assert stores(conn, **filters)[1] == 1
    assert stores(conn, **filters)[1] == 0
    conn.execute(write)
    rows, plans = stores(conn, **filters)
    assert plans == (1 if outdates else 0)
    assert [r["id"] for r in rows] == oracle(conn, **filters, viewer=None)[:25]


def test_a_kept_plan_expires(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE gallery_config SET plan_memo_ttl_seconds = 1")
    assert stores(conn, tags=[TAGS[0]], sources=COMMUNITY)[1] == 1
    assert stores(conn, tags=[TAGS[0]], sources=COMMUNITY)[1] == 0
    time.sleep(1.1)
    assert stores(conn, tags=[TAGS[0]], sources=COMMUNITY)[1] == 1


@pytest.mark.parametrize("match", ["all", "any"])
def test_a_tag_created_while_and_after_a_filter_is_planned_is_found(
    gallery_dsn: str, conn: psycopg.Connection, match: str
) -> None:
    """A filter naming a tag that does not exist yet is never kept, also while a writer
    has created it and not committed (its trigger has bumped the generation already):
    once the tag and a link to it are committed, the next page has the item."""
    filters = {"tags": [NEW_TAG, TAGS[0]], "match": match, "sources": COMMUNITY}
    with psycopg.connect(gallery_dsn) as writer:
        for step in ("before", "uncommitted"):
            for _ in range(2):
                rows, plans = stores(conn, **filters)
                assert plans == 0
                assert [r["id"] for r in rows] == oracle(conn, **filters, viewer=None)[:25]
                assert (rows == []) == (match == "all")
            if step == "before":
                writer.execute(f"INSERT INTO tags (id, name) VALUES ('{NEW_TAG}', 'memo-new')")
                writer.execute(
                    "INSERT INTO content_tags (content_id, content_source, tag_id)"
                    f" SELECT content_id, content_source, '{NEW_TAG}' FROM content_tags"
                    f" WHERE tag_id = '{TAGS[0]}' ORDER BY content_id LIMIT 1"
                )
        writer.commit()
    rows = page(conn, **filters)
    assert rows and [r["id"] for r in rows] == oracle(conn, **filters, viewer=None)[:25]


@pytest.mark.parametrize("match", ["all", "any"])
def test_a_tag_deleted_after_its_plan_was_kept_matches_nothing(
    conn: psycopg.Connection, match: str
) -> None:
    filters = {"tags": [RARE_TAGS[0], TAGS[0]], "match": match, "sources": COMMUNITY}
    page(conn, **filters)
    assert stores(conn, **filters)[1] == 0
    conn.execute(f"DELETE FROM tags WHERE id = '{RARE_TAGS[0]}'")
    rows = page(conn, **filters)
    assert [r["id"] for r in rows] == oracle(conn, **filters, viewer=None)[:25]
    assert (rows == []) == (match == "all")


def test_a_forced_strategy_has_plans_of_its_own_read_only_transactions_none(
    conn: psycopg.Connection,
) -> None:
    filters = {"tags": [TAGS[0]], "sources": COMMUNITY}
    forced, plans = stores(conn, **filters, strategy="order_first")
    assert plans == 1
    assert stores(conn, **filters, strategy="order_first") == (forced, 0)
    conn.execute("SET default_transaction_read_only = on")
    rows, plans = stores(conn, **filters)
    assert plans == 0
    conn.execute("RESET default_transaction_read_only")
    assert stores(conn, **filters) == (rows, 1)  # the planner's own, not the forced one's
    assert [r["id"] for r in rows] == [r["id"] for r in forced]


def test_the_memo_keeps_at_most_plan_memo_entries_the_newest(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE gallery_config SET plan_memo_entries = 3")
    for tag in TAGS[:8]:
        page(conn, tags=[tag], sources=COMMUNITY)
    kept = conn.execute("SELECT tags FROM gallery_plan_memo ORDER BY fill").fetchall()
    assert [[str(t) for t in r["tags"]] for r in kept] == [[t] for t in TAGS[5:8]]
    conn.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    page(conn, tags=[TAGS[0]], sources=COMMUNITY)
    assert stored(conn) == 3  # none stored, the old ones left to expire


def test_storing_a_plan_never_waits_for_another_session(gallery_dsn: str) -> None:
    """A session in a transaction still open that stored plans, and so deleted the oldest
    committed ones (locked until it ends): another session storing plans, which deletes
    around the same entries, and one planning the same filters, do not wait for it (a
    wait would end in the lock timeout's error)."""
    with (
        psycopg.connect(gallery_dsn, row_factory=dict_row) as holder,
        psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as other,
    ):
        other.execute("UPDATE gallery_config SET plan_memo_entries = 2")
        for tag in TAGS[:4]:
            page(other, tags=[tag], sources=COMMUNITY)  # committed: the last two kept
        for tag in TAGS[4:6]:
            page(holder, tags=[tag], sources=COMMUNITY)  # deletes those two, uncommitted
        other.execute("SET lock_timeout = '1s'")
        for tag in TAGS[3:8]:
            assert [r["id"] for r in page(other, tags=[tag], sources=COMMUNITY)] == oracle(
                other, [tag], "all", COMMUNITY, None
            )[:25]
        holder.rollback()


def test_what_null_sources_stand_for_follows_the_viewer(conn: psycopg.Connection) -> None:
    """The key holds whether viewer_id is NULL: NULL sources are the community ones for
    an anonymous call, all four with a viewer."""
    for viewer, sources in ((None, COMMUNITY), (2, ALL_SOURCES), (None, COMMUNITY)):
        rows = page(conn, tags=[TAGS[0]], sources=None, viewer=viewer)
        assert [r["id"] for r in rows] == oracle(conn, [TAGS[0]], "all", sources, viewer)[:25]
    assert stored(conn) == 2


def test_a_kept_plan_still_refuses_bad_directions_and_cursors_and_a_refused_call_keeps_none(
    conn: psycopg.Connection,
) -> None:
    """The direction and the cursor are not in the key: checked on every call, a kept plan
    or not (22023); a call refused for its cursor stores nothing."""
    filters = {"tags": [TAGS[0]], "sources": COMMUNITY}
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        page(conn, **filters, cursor="g2.1.2.3.4")
    assert stored(conn) == 0
    page(conn, **filters)
    assert stored(conn) == 1
    for bad in ({"direction": "sideways"}, {"direction": "prev"}, {"cursor": "g2.1.2.3.4"}):
        with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
            page(conn, **filters, **bad)
        assert raised.value.diag.message_hint
    assert stored(conn) == 1
