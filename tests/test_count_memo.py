"""The count memo (gallery_count_memo): a kept estimate is the one a fresh estimate gives,
for every filter, scope and viewer; a new sample, a deleted or created tag and a knob change
outdate it, also when the writer commits while a reader stores (concurrent sessions); exact
counts, and estimates that counted, are never kept; read-only transactions neither use nor
keep estimates; the memo stays within plan_memo_entries."""

from __future__ import annotations

import itertools
import time
import uuid

import psycopg
import pytest

from tests.test_count import SCOPES, TAG, _count, _filters, correlated  # noqa: F401 (fixture)

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


def test_exact_counts_are_never_kept(correlated: psycopg.Connection) -> None:  # noqa: F811
    exact = _count(correlated, [TAG["a"]], "all", None, None, "exact")
    assert kept(correlated) == 0
    correlated.execute(
        "INSERT INTO content_tags (content_id, content_source, tag_id)"
        " SELECT id, source_type, %s FROM content_items_all"
        " WHERE NOT is_private AND id NOT IN (SELECT content_id FROM content_tags"
        "                                      WHERE tag_id = %s) ORDER BY id LIMIT 5",
        (TAG["a"], TAG["a"]),
    )
    again = _count(correlated, [TAG["a"]], "all", None, None, "exact")
    assert again["items"] == exact["items"] + 5 and kept(correlated) == 0


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
