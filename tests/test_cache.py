"""The page cache (gallery_config.cache_enabled): a hit returns exactly what a miss would,
cursors included; every kind of write invalidates the pages it changes, and only those,
in the writer's transaction; a reader that read before a write committed never stores a
page that hides it; TTL, eviction, bypass, privileges, and a crash restart that empties the
unlogged tables."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from pydeploy import api
from pydeploy.server import LocalServer
from tests.conftest import GALLERY_DATA_SQL, SQL_DIR
from tests.test_gallery import (
    ALL_SOURCES,
    COMMUNITY,
    EMPTY_TAG,
    RARE_TAGS,
    TAGS,
    oracle,
    page,
    walk,
)

COUNTERS = "SELECT * FROM gallery_cache_summary"
COUNT = "SELECT * FROM gallery.gallery_count(%s::uuid[], cap => 100000)"
# filters whose pages the write tests watch: two rare tags, and none
TAG_A, TAG_B = RARE_TAGS[0], RARE_TAGS[1]


@pytest.fixture
def cached(gallery_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute("UPDATE gallery_config SET cache_enabled = true")
        yield c


def counters(c: psycopg.Connection) -> dict:
    row = c.execute(COUNTERS).fetchone()
    assert row is not None
    return row


def hits_of(c: psycopg.Connection, **kwargs: object) -> tuple[list[dict], int]:
    """The page, and how many hits it took (0: a miss, 1: a hit)."""
    before = counters(c)["hits"]
    rows = page(c, **kwargs)
    return rows, counters(c)["hits"] - before


def ids(rows: list[dict]) -> list[int]:
    return [r["id"] for r in rows]


@pytest.mark.parametrize(
    ("tags", "match", "sources", "viewer"),
    [
        ([], "all", ALL_SOURCES, 2),
        ([TAGS[0]], "all", COMMUNITY, None),
        ([TAGS[0], TAGS[1]], "all", ALL_SOURCES, 2),
        ([TAGS[10], TAGS[11], TAGS[0]], "any", ["user-auto", "community-regular"], 3),
        ([RARE_TAGS[0], TAGS[23]], "any", COMMUNITY, None),
    ],
)
def test_a_hit_returns_exactly_the_rows_of_a_miss(
    cached: psycopg.Connection, tags: list[str], match: str, sources: list[str], viewer: int | None
) -> None:
    """Walked forward and back twice with the cache (misses, then hits) and once without:
    the same rows and cursors, and cursors from hits and misses continue each other."""
    filters = {"tags": tags, "match": match, "sources": sources, "viewer": viewer}
    first = walk(cached, 7, **filters)
    before = counters(cached)
    assert walk(cached, 7, **filters) == first
    after = counters(cached)
    assert after["hits"] > before["hits"] and after["misses"] == before["misses"]
    cached.execute("UPDATE gallery_config SET cache_enabled = false")
    assert walk(cached, 7, **filters) == first == oracle(cached, tags, match, sources, viewer)
    assert counters(cached)["hits"] == after["hits"]


def test_equivalent_calls_share_an_entry_and_refused_calls_stay_refused(
    cached: psycopg.Connection,
) -> None:
    rows, hits = hits_of(cached, tags=[TAGS[1], TAGS[0]], sources=COMMUNITY)
    assert hits == 0 and rows
    for same in (
        {"tags": [TAGS[0], TAGS[1], TAGS[0]], "sources": ["community-auto", "community-regular"]},
        {"tags": [TAGS[0], TAGS[1]], "sources": None},
    ):
        again, hits = hits_of(cached, **same)
        assert hits == 1 and again == rows
    # a cached page is found before the arguments are checked: what gallery_page refuses
    # must never share its key
    for refused in (
        {"tags": [[TAGS[0]], [TAGS[1]]], "sources": COMMUNITY},
        {"tags": [TAGS[0], TAGS[1], None], "sources": COMMUNITY},
        {"tags": [TAGS[0], TAGS[1]] * 501, "sources": COMMUNITY},
        {"tags": [TAGS[0], TAGS[1]], "sources": [COMMUNITY]},
        {"tags": [TAGS[0], TAGS[1]], "sources": [*COMMUNITY, "nope"]},
        {"tags": [TAGS[0], TAGS[1]], "sources": ALL_SOURCES},  # user-* without a viewer
    ):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            page(cached, **refused)


def test_bypass(cached: psycopg.Connection) -> None:
    """A forced strategy and a read-only transaction neither read nor store pages; with the
    knob off nothing is read or stored either."""
    before = counters(cached)
    page(cached, tags=[TAGS[0]], sources=COMMUNITY, strategy="tag_walk")
    with cached.transaction():
        cached.execute("SET TRANSACTION READ ONLY")
        page(cached, tags=[TAGS[0]], sources=COMMUNITY)
    assert counters(cached) == before
    cached.execute("UPDATE gallery_config SET cache_enabled = false")
    page(cached, tags=[TAGS[0]], sources=COMMUNITY)
    assert counters(cached)["fills"] == before["fills"] and counters(cached)["entries"] == 0


WRITES = {
    # what each write changes: the pages of TAG_A, of TAG_B, without a tag filter
    "link inserted": (
        "INSERT INTO content_tags SELECT id, source_type, %(a)s FROM content_items_all"
        " WHERE NOT is_private AND id NOT IN (SELECT content_id FROM content_tags"
        " WHERE tag_id = %(a)s) ORDER BY created_at DESC LIMIT 1 ON CONFLICT DO NOTHING",
        {"a"},
    ),
    "link deleted": (
        "DELETE FROM content_tags WHERE tag_id = %(a)s AND content_id ="
        " (SELECT max(content_id) FROM content_tags WHERE tag_id = %(a)s)",
        {"a"},
    ),
    "link re-tagged": (
        "UPDATE content_tags SET tag_id = %(b)s WHERE tag_id = %(a)s AND content_id ="
        " (SELECT max(content_id) FROM content_tags WHERE tag_id = %(a)s AND content_id"
        " NOT IN (SELECT content_id FROM content_tags WHERE tag_id = %(b)s))",
        {"a", "b"},
    ),
    "item inserted": (
        "INSERT INTO content_items_all (title, creator_id, source_type, created_at)"
        " VALUES ('new', 1, 'auto', 'infinity')",
        {"none"},
    ),
    "item turned private": (
        "UPDATE content_items_all SET is_private = NOT is_private WHERE id ="
        " (SELECT max(content_id) FROM content_tags WHERE tag_id = %(a)s)",
        {"a", "none"},
    ),
    "item retitled": (
        "UPDATE content_items_all SET title = 'renamed' WHERE id ="
        " (SELECT max(content_id) FROM content_tags WHERE tag_id = %(a)s)",
        {"a", "none"},
    ),
    "item re-dated": (
        "UPDATE content_items_all SET created_at = 'infinity' WHERE id ="
        " (SELECT min(content_id) FROM content_tags WHERE tag_id = %(a)s)",
        {"a", "none"},
    ),
    "item deleted": (
        "DELETE FROM content_items_all WHERE id ="
        " (SELECT max(content_id) FROM content_tags WHERE tag_id = %(a)s)",
        {"a", "none"},
    ),
    "tag deleted": ("DELETE FROM tags WHERE id = %(a)s", {"a"}),
    "tag renamed": ("UPDATE tags SET name = 'renamed' WHERE id = %(a)s", set()),
    "knob changed": ("UPDATE gallery_config SET max_tags = max_tags", {"a", "b", "none"}),
    "nothing changed": ("UPDATE content_items_all SET title = title WHERE id = 1", set()),
}
WATCHED = {"a": [TAG_A], "b": [TAG_B], "none": []}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_invalidates_the_pages_it_changes_and_no_other(
    cached: psycopg.Connection, write: str
) -> None:
    statement, changed = WRITES[write]
    for tags in WATCHED.values():
        page(cached, tags=tags, sources=COMMUNITY)
    cached.execute(statement, {"a": TAG_A, "b": TAG_B})
    for name, tags in WATCHED.items():
        rows, hits = hits_of(cached, tags=tags, sources=COMMUNITY)
        assert ids(rows) == oracle(cached, tags, "all", COMMUNITY, None)[:25], name
        assert hits == (0 if name in changed else 1), f"{name}: {write}"


def test_a_rolled_back_write_leaves_no_page_behind(cached: psycopg.Connection) -> None:
    """A page read inside the writing transaction (it shows the write) goes with it."""
    before = ids(page(cached, sources=COMMUNITY))
    with pytest.raises(psycopg.errors.RaiseException), cached.transaction():
        cached.execute(WRITES["item inserted"][0])
        assert ids(page(cached, sources=COMMUNITY)) != before
        cached.execute("DO $$ BEGIN RAISE 'roll back'; END $$")
    assert ids(page(cached, sources=COMMUNITY)) == before


@pytest.mark.parametrize("match", ["all", "any"])
def test_a_page_read_inside_a_writing_transaction_is_not_kept(
    cached: psycopg.Connection, match: str
) -> None:
    """The writer links a new item to a tag, then reads the tag's page in the same
    transaction: the items' tag_nos are written at commit, so that page may lack the new
    item (strategies that test tag_nos), and the versions it would be stored with are
    already the ones after the write. Once committed, the page has the item."""
    tags = [TAG_A, TAG_B] if match == "any" else [TAG_A]
    with cached.transaction():
        new = cached.execute(
            "INSERT INTO content_items_all (title, creator_id, source_type, created_at)"
            " VALUES ('new', 1, 'auto', 'infinity') RETURNING id"
        ).fetchone()["id"]
        cached.execute(
            "INSERT INTO content_tags (content_id, content_source, tag_id) VALUES (%s, 'auto', %s)",
            (new, TAG_A),
        )
        for strategy in (None, "order_first"):  # the planner's pick, and one that tests tag_nos
            page(cached, tags=tags, match=match, sources=COMMUNITY, strategy=strategy)
    rows, hits = hits_of(cached, tags=tags, match=match, sources=COMMUNITY)
    assert ids(rows)[0] == new and hits == 0
    assert ids(rows) == oracle(cached, tags, match, COMMUNITY, None)[:25]


def test_truncate_drops_every_page(cached: psycopg.Connection) -> None:
    assert page(cached, tags=[TAG_A], sources=COMMUNITY)
    cached.execute("TRUNCATE content_tags")
    assert counters(cached)["entries"] == 0
    assert page(cached, tags=[TAG_A], sources=COMMUNITY) == []


def test_a_reader_that_read_before_a_write_never_stores_a_page_hiding_it(
    cached: psycopg.Connection, gallery_dsn: str
) -> None:
    """The reader's snapshot predates the writer's commit (repeatable read); the page it
    reads and stores hides the write; once both have committed, nobody is served it."""
    with psycopg.connect(gallery_dsn, row_factory=dict_row) as reader:
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        old = ids(page(reader, tags=[TAG_A], sources=COMMUNITY))  # the snapshot is taken
        cached.execute(WRITES["link inserted"][0], {"a": TAG_A})  # committed
        assert ids(page(reader, tags=[TAG_A], sources=COMMUNITY, page_size=24)) == old[:24]
        reader.commit()
    fresh = oracle(cached, [TAG_A], "all", COMMUNITY, None)
    assert fresh[:25] != old
    for size in (25, 24):
        rows, hits = hits_of(cached, tags=[TAG_A], sources=COMMUNITY, page_size=size)
        assert ids(rows) == fresh[:size] and hits == 0


def test_concurrent_writers_and_readers_never_see_a_stale_page(
    cached: psycopg.Connection, gallery_dsn: str
) -> None:
    """Writers add and remove links of two tags and flip items' privacy, each write its own
    transaction, while readers page through them (and an empty tag's page that no write
    changes) through the cache, and count them (the count memo); afterwards every cached
    page and kept count is the oracle's."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            with psycopg.connect(gallery_dsn, autocommit=True) as w:
                n = 0
                while not stop.is_set():
                    n += 1
                    tag = (TAG_A, TAG_B)[(n + seed) % 2]
                    # a privacy change and a change of the same item's links in two
                    # transactions at once can deadlock (docs/db.md): that write is lost
                    try:
                        w.execute(WRITES["link inserted"][0], {"a": tag})
                        w.execute(
                            "UPDATE content_items_all SET is_private = NOT is_private WHERE id ="
                            " (SELECT min(content_id) + %s FROM content_tags WHERE tag_id = %s)",
                            (n % 3, tag),
                        )
                        w.execute(WRITES["link deleted"][0], {"a": tag})
                    except psycopg.errors.DeadlockDetected:
                        continue
        except BaseException as e:
            errors.append(e)

    def reader() -> None:
        try:
            with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as r:
                while not stop.is_set():
                    for tags in [*WATCHED.values(), [EMPTY_TAG]]:
                        page(r, tags=tags, sources=COMMUNITY, page_size=10)
                        r.execute(COUNT, (tags,))  # kept by the count memo, guarded alike
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(6)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert counters(cached)["hits"] > 0 and counters(cached)["invalidations"] > 0
    for tags in WATCHED.values():
        rows = page(cached, tags=tags, sources=COMMUNITY, page_size=10)
        assert ids(rows) == oracle(cached, tags, "all", COMMUNITY, None)[:10]
        counted = cached.execute(COUNT, (tags,)).fetchone()
        assert counted["items"] == len(oracle(cached, tags, "all", COMMUNITY, None))


def test_ttl_and_eviction(cached: psycopg.Connection) -> None:
    cached.execute("UPDATE gallery_config SET cache_ttl_seconds = 1, cache_max_entries = 2")
    page(cached, tags=[TAGS[0]], sources=COMMUNITY)
    time.sleep(1.1)
    _, hits = hits_of(cached, tags=[TAGS[0]], sources=COMMUNITY)
    assert hits == 0 and counters(cached)["expirations"] == 1
    cached.execute("UPDATE gallery_config SET cache_ttl_seconds = 300")
    for tag in TAGS[:3]:
        page(cached, tags=[tag], sources=COMMUNITY)
    stats = counters(cached)
    assert stats["entries"] == 2 and stats["evictions"] >= 1
    assert hits_of(cached, tags=[TAGS[2]], sources=COMMUNITY)[1] == 1
    assert hits_of(cached, tags=[TAGS[0]], sources=COMMUNITY)[1] == 0  # the oldest made room


def test_clear_and_privileges(cached: psycopg.Connection) -> None:
    for tags in WATCHED.values():
        page(cached, tags=tags, sources=COMMUNITY)
    assert cached.execute("SELECT gallery_cache_clear(%s)", (TAG_A,)).fetchone() == {
        "gallery_cache_clear": 1
    }
    assert cached.execute("SELECT gallery_cache_clear()").fetchone() == {"gallery_cache_clear": 2}
    cached.execute("CREATE ROLE cache_reader IN ROLE gallery_reader")
    cached.execute("CREATE ROLE cache_admin IN ROLE gallery_admin")
    try:
        cached.execute("SET ROLE cache_reader")
        assert page(cached, tags=[TAG_A], sources=COMMUNITY)
        for forbidden in (
            "SELECT gallery_cache_clear()",
            "SELECT * FROM gallery_cache_summary",
            "SELECT * FROM public.gallery_page_cache",
            "SELECT * FROM public.gallery_cache_versions",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cached.execute(forbidden)
        cached.execute("SET ROLE cache_admin")
        assert counters(cached)["entries"] == 1
        assert cached.execute("SELECT gallery_cache_clear()").fetchone() == {
            "gallery_cache_clear": 1
        }
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cached.execute("SELECT * FROM public.gallery_page_cache")
    finally:
        cached.execute("RESET ROLE")
        cached.execute("DROP OWNED BY cache_reader, cache_admin")
        cached.execute("DROP ROLE cache_reader, cache_admin")


def test_a_crash_restart_empties_the_cache_and_pages_stay_right(
    spare_server: LocalServer,
) -> None:
    """A killed backend makes PostgreSQL restart with crash recovery, which empties unlogged
    tables and sequences: the cache starts cold, consistent, and fills again."""
    spare_server.start()
    dsn = spare_server.url()
    api.apply(dsn, SQL_DIR)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("ALTER DATABASE gallery SET search_path = gallery, public")
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute(GALLERY_DATA_SQL)
        c.execute("UPDATE gallery_config SET cache_enabled = true")
        expected = page(c, tags=[TAG_A], sources=COMMUNITY)
        assert page(c, tags=[TAG_A], sources=COMMUNITY) == expected
        assert counters(c)["entries"] == 1
        os.kill(c.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"], signal.SIGKILL)
    for _ in range(100):
        try:
            with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as c:
                assert counters(c)["entries"] == 0
                assert page(c, tags=[TAG_A], sources=COMMUNITY) == expected
                assert page(c, tags=[TAG_A], sources=COMMUNITY) == expected
                assert counters(c)["hits"] == 1
                return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise AssertionError("the server did not come back after the crash")


def test_a_writer_needs_no_right_on_the_cache(cached: psycopg.Connection) -> None:
    """An application role with the rights docs/db.md lists for writing items and links
    writes, and its writes invalidate what they change."""
    page(cached, tags=[TAG_A], sources=COMMUNITY)
    cached.execute("CREATE ROLE cache_writer")
    try:
        cached.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON content_items_all, content_tags"
            " TO cache_writer;"
            " GRANT SELECT, INSERT, DELETE ON tag_nos_pending, tag_nos_pending_xact"
            " TO cache_writer;"
            " GRANT SELECT ON tags, content_items, content_items_auto TO cache_writer"
        )
        cached.execute("SET ROLE cache_writer")
        cached.execute(WRITES["link inserted"][0], {"a": TAG_A})
        cached.execute(WRITES["item retitled"][0], {"a": TAG_A})
        cached.execute("RESET ROLE")
        rows, hits = hits_of(cached, tags=[TAG_A], sources=COMMUNITY)
        assert hits == 0 and ids(rows) == oracle(cached, [TAG_A], "all", COMMUNITY, None)[:25]
    finally:
        cached.execute("RESET ROLE")
        cached.execute("DROP OWNED BY cache_writer")
        cached.execute("DROP ROLE cache_writer")


def test_warming_reads_invalidated_first_pages_again(cached: psycopg.Connection) -> None:
    first = page(cached, tags=[TAG_A], sources=COMMUNITY, page_size=5)
    page(cached, tags=[TAG_A], sources=COMMUNITY, page_size=5, cursor=first[-1]["row_cursor"])
    page(cached, tags=[TAG_B], sources=COMMUNITY, page_size=5)
    cached.execute(WRITES["link inserted"][0], {"a": TAG_A})
    # only TAG_A's first page: its next page is no first page, TAG_B's is still valid
    assert cached.execute("SELECT gallery_cache_warm()").fetchone() == {"gallery_cache_warm": 1}
    rows, hits = hits_of(cached, tags=[TAG_A], sources=COMMUNITY, page_size=5)
    assert hits == 1 and ids(rows) == oracle(cached, [TAG_A], "all", COMMUNITY, None)[:5]
    assert cached.execute("SELECT gallery_cache_warm()").fetchone() == {"gallery_cache_warm": 0}
    cached.execute("UPDATE gallery_config SET cache_enabled = false")
    assert cached.execute("SELECT gallery_cache_warm()").fetchone() == {"gallery_cache_warm": 0}
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_pages"):
        cached.execute("SELECT gallery_cache_warm(0)")


def test_a_session_that_saw_the_cache_off_finds_it_on(
    cached: psycopg.Connection, gallery_dsn: str
) -> None:
    """A session skips the cache while it last saw it off (a hint): once it is on, the
    session's next call learns it, and the call after is served from the cache."""
    cached.execute("UPDATE gallery_config SET cache_enabled = false")
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as other:
        expected = page(other, tags=[TAG_A], sources=COMMUNITY)  # sees the cache off
        cached.execute("UPDATE gallery_config SET cache_enabled = true")
        assert page(cached, tags=[TAG_A], sources=COMMUNITY) == expected  # stored
        assert hits_of(other, tags=[TAG_A], sources=COMMUNITY) == (expected, 0)
        assert hits_of(other, tags=[TAG_A], sources=COMMUNITY) == (expected, 1)
        cached.execute("UPDATE gallery_config SET cache_enabled = false")
        assert hits_of(other, tags=[TAG_A], sources=COMMUNITY) == (expected, 0)


def test_a_transaction_bumps_a_tag_once_however_many_statements(
    cached: psycopg.Connection,
) -> None:
    def version() -> int:
        row = cached.execute(
            "SELECT coalesce(sum(version), 0) AS v FROM public.gallery_cache_versions"
            " WHERE key = %s",
            (TAG_A,),
        ).fetchone()
        assert row is not None
        return int(row["v"])

    before = version()
    with cached.transaction():
        for _ in range(3):
            cached.execute(WRITES["link inserted"][0], {"a": TAG_A})
    assert version() == before + 1
    cached.execute(WRITES["link deleted"][0], {"a": TAG_A})
    assert version() == before + 2
