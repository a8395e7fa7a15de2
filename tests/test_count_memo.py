"""The count memo (gallery_count_memo): a kept answer is the one a fresh call gives. An
estimate, for every filter, scope and viewer, until a new sample, a deleted or created tag
or a knob change, also when the writer commits while a reader stores (concurrent sessions);
estimates that counted are not kept. An exact count, until a write that can change it
(every kind of write, against the oracle), also when a reader's snapshot predates a
writer's commit, and never from a transaction whose link changes are not in tag_nos yet;
TRUNCATE drops every kept count. Read-only transactions neither use nor keep answers; the
memo stays within plan_memo_entries."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.test_cache import WATCHED, WRITES
from tests.test_count import SCOPES, TAG, _count, _filters, correlated  # noqa: F401 (fixture)
from tests.test_gallery import ALL_SOURCES, COMMUNITY, RARE_TAGS, TAGS, oracle

KEPT = "SELECT count(*) AS n FROM gallery_count_memo"
NEW_TAG = uuid.UUID(int=99)


def kept(c: psycopg.Connection) -> int:
    row = c.execute(KEPT).fetchone()
    assert row is not None
    return int(row["n"])


def estimate(
    c: psycopg.Connection,
    tags: list[uuid.UUID],
    match: str = "all",
    sources: list[str] | None = None,
    viewer: int | None = None,
) -> tuple[dict, int]:
    """The estimate, and how many answers the call stored (0: it used a kept one, or
    counted)."""
    before = kept(c)
    got = _count(c, tags, match, sources, viewer, "estimate")
    return dict(got), kept(c) - before


def test_a_kept_estimate_is_the_fresh_one_for_every_filter_scope_and_viewer(
    correlated: psycopg.Connection,  # noqa: F811
) -> None:
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    cases = list(itertools.product(_filters(), SCOPES))
    fresh = [estimate(correlated, t, m, sources=s, viewer=v)[0] for (t, m), (s, v) in cases]
    assert kept(correlated) == 0
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 10000")
    first = [estimate(correlated, t, m, sources=s, viewer=v) for (t, m), (s, v) in cases]
    again = [estimate(correlated, t, m, sources=s, viewer=v) for (t, m), (s, v) in cases]
    assert [got for got, _ in first] == fresh == [got for got, _ in again]
    # answered from the sample: kept once; counted (few matches): never kept
    assert [n for _, n in first] == [0 if got["exact"] else 1 for got in fresh]
    assert [n for _, n in again] == [0] * len(cases)
    assert sum(not got["exact"] for got in fresh) > 50
    # the viewer is part of the key: another viewer's own items are not this one's
    assert estimate(correlated, [TAG["a"]], sources=["user-regular"], viewer=1)[1] == 1
    assert estimate(correlated, [TAG["a"]], sources=["user-regular"], viewer=2)[1] == 1


@pytest.mark.parametrize(
    ("write", "outdates"),
    [
        ("SELECT gallery.gallery_stats_refresh()", True),
        ("SELECT gallery._gallery_stats_sample(p_sample_rows => 500)", True),  # the sample alone
        (f"DELETE FROM tags WHERE id = '{TAG['b']}'", True),
        (f"INSERT INTO tags (id, name) VALUES ('{NEW_TAG}', 'count-memo-new')", True),
        ("UPDATE gallery_config SET telemetry_sample_rate = telemetry_sample_rate", True),
        ("UPDATE content_items_all SET is_private = NOT is_private WHERE id % 7 = 0", False),
    ],
)
def test_a_new_sample_tags_and_knobs_outdate_kept_estimates_item_writes_do_not(
    correlated: psycopg.Connection,  # noqa: F811
    write: str,
    outdates: bool,
) -> None:
    """An estimate is as of the last sample: item writes change neither a fresh nor a kept
    one until the next refresh."""
    tags = [TAG["a"], TAG["b"], NEW_TAG]
    assert estimate(correlated, tags, "any")[1] == 1
    correlated.execute(write)
    got, stored = estimate(correlated, tags, "any")
    assert stored == (1 if outdates else 0)
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    assert estimate(correlated, tags, "any")[0] == got


@pytest.mark.parametrize(
    "write",
    [
        "SELECT gallery.gallery_stats_refresh()",
        f"DELETE FROM tags WHERE id = '{TAG['b']}'",
        f"INSERT INTO tags (id, name) VALUES ('{NEW_TAG}', 'count-memo-new')",
    ],
)
def test_an_estimate_stored_while_a_writer_commits_is_not_used_after(
    gallery_dsn: str,
    correlated: psycopg.Connection,  # noqa: F811
    write: str,
) -> None:
    """The writer's triggers bump the plan generation before it commits: a reader that
    estimates in between stores its answer under the new generation, from the old sample
    and tags. Once the writer commits, that answer is not used: the sample's version and
    the tags' numbers are checked too."""
    tags = [TAG["a"], TAG["b"], NEW_TAG]
    with psycopg.connect(gallery_dsn) as writer:
        writer.execute(write)
        before, stored = estimate(correlated, tags, "any")
        assert stored == 1
        assert estimate(correlated, tags, "any") == (before, 0)
        writer.commit()
    after, stored = estimate(correlated, tags, "any")
    assert stored == 1
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    assert estimate(correlated, tags, "any")[0] == after


@pytest.fixture
def conn(gallery_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        yield c


def count(
    c: psycopg.Connection,
    tags: list[str],
    match: str = "all",
    sources: list[str] | None = COMMUNITY,
    viewer: int | None = None,
    cap: int = 1000,
) -> tuple[dict, int]:
    """The exact count, and how many answers the call stored (0: it used a kept one)."""
    before = kept(c)
    got = c.execute(
        "SELECT * FROM gallery.gallery_count(%s::uuid[], %s, %s::text[], %s, %s)",
        (tags, match, sources, viewer, cap),
    ).fetchone()
    return dict(got), kept(c) - before


def truth(
    c: psycopg.Connection,
    tags: list[str],
    match: str,
    sources: list[str],
    viewer: int | None,
    cap: int = 1000,
) -> tuple[int, bool]:
    n = len(oracle(c, tags, match, sources, viewer))
    return min(n, cap), n <= cap


@pytest.mark.parametrize(
    ("tags", "match", "sources", "viewer", "cap"),
    [
        ([], "all", ALL_SOURCES, 2, 1000),
        ([], "all", COMMUNITY, None, 50),  # "at least 50"
        ([TAGS[0]], "all", COMMUNITY, None, 1000),
        ([TAGS[0], TAGS[1]], "all", ALL_SOURCES, 2, 1000),
        ([TAGS[10], TAGS[11], TAGS[0]], "any", ["user-auto", "community-regular"], 3, 20),
        ([RARE_TAGS[0], RARE_TAGS[1]], "any", ["user-regular", "user-auto"], 1, 1000),
    ],
)
def test_a_kept_exact_count_is_the_fresh_one(
    conn: psycopg.Connection,
    tags: list[str],
    match: str,
    sources: list[str],
    viewer: int | None,
    cap: int,
) -> None:
    first, stored = count(conn, tags, match, sources, viewer, cap)
    assert stored == 1
    assert (first["items"], first["exact"]) == truth(conn, tags, match, sources, viewer, cap)
    assert count(conn, tags, match, sources, viewer, cap) == (first, 0)
    # the cap is part of the key
    assert count(conn, tags, match, sources, viewer, cap + 1)[1] == 1


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_outdates_the_counts_it_changes_and_no_other(
    conn: psycopg.Connection, write: str
) -> None:
    """The writes of the page cache's tests (test_cache.WRITES), each with the filters
    whose pages it changes: after it, those counts are counted afresh and the others
    kept; every count is the oracle's."""
    statement, changed = WRITES[write]
    for tags in WATCHED.values():
        count(conn, tags)
    conn.execute(statement, {"a": WATCHED["a"][0], "b": WATCHED["b"][0]})
    for name, tags in WATCHED.items():
        got, stored = count(conn, tags)
        assert (got["items"], got["exact"]) == truth(conn, tags, "all", COMMUNITY, None), name
        # (a filter naming a deleted tag is answered 0 at once, without a count to keep)
        counted = name in changed and not (write == "tag deleted" and name == "a")
        assert stored == (1 if counted else 0), f"{name}: {write}"


def test_a_reader_that_counted_before_a_write_never_keeps_a_count_hiding_it(
    conn: psycopg.Connection, gallery_dsn: str
) -> None:
    """The reader's snapshot predates the writer's commit (repeatable read): the count it
    keeps is labelled with the versions it read before the write; once both committed,
    nobody is served it."""
    tags = WATCHED["a"]
    with psycopg.connect(gallery_dsn, row_factory=dict_row) as reader:
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT count(*) FROM content_items_all")  # the snapshot is taken
        conn.execute(WRITES["link inserted"][0], {"a": tags[0]})  # committed
        old, stored = count(reader, tags)
        assert stored == 1
        reader.commit()
    fresh, stored = count(conn, tags)
    assert fresh["items"] == old["items"] + 1 and stored == 1
    assert (fresh["items"], fresh["exact"]) == truth(conn, tags, "all", COMMUNITY, None)


def test_a_count_read_inside_a_writing_transaction_is_not_kept(conn: psycopg.Connection) -> None:
    """tag_nos of the transaction's own links are written at its commit: its count may
    lack them while the versions count them."""
    tags = WATCHED["a"]
    before, _ = count(conn, tags)
    with conn.transaction():
        conn.execute(WRITES["link inserted"][0], {"a": tags[0]})
        assert count(conn, tags)[1] == 0
    after, stored = count(conn, tags)
    assert after["items"] == before["items"] + 1 and stored == 1


def test_truncate_drops_every_kept_count(conn: psycopg.Connection) -> None:
    count(conn, WATCHED["a"])
    count(conn, [])
    conn.execute("TRUNCATE content_tags")
    assert kept(conn) == 0
    assert count(conn, WATCHED["a"])[0]["items"] == 0


def test_a_kept_estimate_expires(correlated: psycopg.Connection) -> None:  # noqa: F811
    correlated.execute("UPDATE gallery_config SET plan_memo_ttl_seconds = 1")
    assert estimate(correlated, [TAG["f"]])[1] == 1
    assert estimate(correlated, [TAG["f"]])[1] == 0
    time.sleep(1.1)
    assert estimate(correlated, [TAG["f"]])[1] == 1


def test_read_only_transactions_neither_use_nor_keep_estimates(
    correlated: psycopg.Connection,  # noqa: F811
) -> None:
    correlated.execute("SET default_transaction_read_only = on")
    got, stored = estimate(correlated, [TAG["f"]])
    assert stored == 0 and kept(correlated) == 0
    correlated.execute("RESET default_transaction_read_only")
    assert estimate(correlated, [TAG["f"]]) == (got, 1)


def test_the_memo_keeps_at_most_plan_memo_entries_the_newest(
    correlated: psycopg.Connection,  # noqa: F811
) -> None:
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 3")
    for viewer in range(1, 7):
        estimate(correlated, [TAG["f"]], sources=["user-auto"], viewer=viewer)
    assert kept(correlated) == 3
    assert [
        estimate(correlated, [TAG["f"]], sources=["user-auto"], viewer=v)[1] for v in (6, 5, 4)
    ] == [0, 0, 0]
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 1")
    estimate(correlated, [TAG["f"]], sources=["user-auto"], viewer=1)
    assert kept(correlated) == 1  # lowering the knob drops the backlog with the next store
    correlated.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    estimate(correlated, [TAG["f"]], sources=["user-auto"], viewer=2)
    assert kept(correlated) == 1  # none stored, the old one left to expire
