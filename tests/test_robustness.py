"""Robustness: concurrent tagging without deadlocks, extreme timestamps in cursors, the
edges of the argument contract, and an adoption whose preparation is killed midway."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from pydeploy import api
from tests.conftest import SQL_DIR
from tests.test_gallery import COMMUNITY, TAGS


def rows(dsn: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or None).fetchall()


def execute(dsn: str, query: str, *params: object) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query, params or None)


class Worker(threading.Thread):
    """Runs a function in a thread; join() re-raises what it raised in the test."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as e:  # handed to the test by finish()
            self.error = e

    def finish(self, timeout: float = 60) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the worker is still blocked"
        if self.error is not None:
            raise self.error


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll a state (not a sleep standing in for one) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def blocked_or_done(monitor: psycopg.Connection, pid: int, worker: Worker) -> bool:
    """True once the worker has finished or its backend waits for a lock."""
    if not worker.is_alive():
        return True
    row = monitor.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return row is not None and row[0] == "Lock"


# -- item 4: tagging the same items in opposite order ---------------------------------

TAG_NOS_DRIFT_SQL = """
SELECT i.id FROM content_items_all i
 WHERE i.tag_nos IS DISTINCT FROM ARRAY(
        SELECT t.tag_no FROM content_tags l JOIN tags t ON t.id = l.tag_id
         WHERE l.content_id = i.id AND l.content_source = i.source_type ORDER BY 1)
"""


def test_tagging_two_items_in_opposite_order_does_not_deadlock(gallery_dsn: str) -> None:
    """T1 tags item 1 then item 2, T2 tags item 2 then item 1, each statement on its own,
    interleaved: T1 item 1, T2 item 2, T1 item 2, T2 item 1. Inserting the links alone
    never waits (different keys); the copy in tag_nos must not make them wait either."""
    execute(gallery_dsn, "DELETE FROM content_tags WHERE content_id IN (1, 2)")
    link = "INSERT INTO content_tags VALUES (%s, 'auto', %s)"
    first = psycopg.connect(gallery_dsn)
    second = psycopg.connect(gallery_dsn)
    monitor = psycopg.connect(gallery_dsn, autocommit=True)
    try:
        first.execute(link, (1, TAGS[0]))
        second.execute(link, (2, TAGS[1]))
        t1 = Worker(lambda: first.execute(link, (2, TAGS[2])))
        t1.start()
        # deterministic interleaving: T2's second statement only once T1's has either
        # finished or is waiting for a lock (which is what used to happen)
        wait_until(lambda: blocked_or_done(monitor, first.info.backend_pid, t1), "T1")
        t2 = Worker(lambda: second.execute(link, (1, TAGS[3])))
        t2.start()
        t2.finish()
        t1.finish()
        c1 = Worker(first.commit)
        c2 = Worker(second.commit)
        c1.start()
        c2.start()
        c1.finish()
        c2.finish()
    finally:
        first.close()
        second.close()
        monitor.close()
    assert rows(
        gallery_dsn,
        "SELECT id, cardinality(tag_nos) FROM content_items_all WHERE id IN (1, 2) ORDER BY id",
    ) == [(1, 2), (2, 2)]
    assert rows(gallery_dsn, TAG_NOS_DRIFT_SQL) == []


def test_many_items_tagged_in_opposite_orders_by_two_transactions(gallery_dsn: str) -> None:
    """Two transactions, each tagging 40 items one statement at a time, in opposite
    orders, fully interleaved (a statement of one, then of the other)."""
    items = [
        r[0] for r in rows(gallery_dsn, "SELECT id FROM content_items_all ORDER BY id LIMIT 40")
    ]
    sources = dict(rows(gallery_dsn, "SELECT id, source_type FROM content_items_all"))
    execute(gallery_dsn, "DELETE FROM content_tags WHERE tag_id IN (%s, %s)", TAGS[14], TAGS[15])
    link = "INSERT INTO content_tags VALUES (%s, %s, %s)"
    first = psycopg.connect(gallery_dsn)
    second = psycopg.connect(gallery_dsn)
    monitor = psycopg.connect(gallery_dsn, autocommit=True)
    try:
        for a, b in zip(items, reversed(items), strict=True):
            t1 = Worker(lambda a=a: first.execute(link, (a, sources[a], TAGS[14])))
            t1.start()
            wait_until(lambda t1=t1: blocked_or_done(monitor, first.info.backend_pid, t1), "T1")
            t2 = Worker(lambda b=b: second.execute(link, (b, sources[b], TAGS[15])))
            t2.start()
            wait_until(lambda t2=t2: blocked_or_done(monitor, second.info.backend_pid, t2), "T2")
            t1.finish()
            t2.finish()
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
        monitor.close()
    assert rows(gallery_dsn, TAG_NOS_DRIFT_SQL) == []


def test_own_links_reach_tag_nos_at_commit_or_on_request(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn) as conn:
        conn.execute("DELETE FROM content_tags WHERE content_id = 5")
        conn.execute("INSERT INTO content_tags VALUES (5, 'auto', %s)", (TAGS[0],))
        conn.execute("SET CONSTRAINTS content_tags_tag_nos_at_commit IMMEDIATE")
        assert conn.execute(
            "SELECT cardinality(tag_nos) FROM content_items_all WHERE id = 5"
        ).fetchone() == (1,)
        conn.execute("SET CONSTRAINTS content_tags_tag_nos_at_commit DEFERRED")
        conn.execute("INSERT INTO content_tags VALUES (5, 'auto', %s)", (TAGS[1],))
        conn.execute("DELETE FROM content_tags WHERE content_id = 5 AND tag_id = %s", (TAGS[0],))
        conn.execute("INSERT INTO content_tags VALUES (5, 'auto', %s)", (TAGS[2],))
        conn.execute("SAVEPOINT s")
        conn.execute("INSERT INTO content_tags VALUES (5, 'auto', %s)", (TAGS[3],))
        conn.execute("ROLLBACK TO SAVEPOINT s")
    assert rows(gallery_dsn, TAG_NOS_DRIFT_SQL) == []
    assert rows(gallery_dsn, "SELECT count(*) FROM tag_nos_pending") == [(0,)]
    assert rows(gallery_dsn, "SELECT cardinality(tag_nos) FROM content_items_all WHERE id = 5") == [
        (2,)
    ]


def test_links_of_a_tag_deleted_in_the_same_transaction_leave_no_number(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn) as conn:
        conn.execute("INSERT INTO tags (id, name) VALUES (%s, 'gone')", (TAGS[0][:-3] + "0aa",))
        conn.execute("INSERT INTO content_tags VALUES (5, 'auto', %s)", (TAGS[0][:-3] + "0aa",))
        conn.execute("DELETE FROM tags WHERE name = 'gone'")
    with psycopg.connect(gallery_dsn) as conn:
        conn.execute("INSERT INTO content_tags VALUES (7, 'auto', %s)", (TAGS[15],))
        conn.execute("TRUNCATE content_tags")
    assert rows(gallery_dsn, TAG_NOS_DRIFT_SQL) == []


# -- item 5: extreme timestamps ---------------------------------------------------------

EXTREME_TIMES = [
    "infinity",
    "infinity",
    "-infinity",
    "294276-12-31 23:59:59.999999+00",  # the last instant PostgreSQL can store
    "294276-12-31 23:59:59.999998+00",
    "294247-01-10 04:00:54.775807+00",  # 2^63 - 1 µs after 1970
    "294247-01-10 04:00:54.775808+00",
    "2255-06-05 23:47:34.740993+00",  # 2^53 + 1 µs after 1970
    "2255-06-05 23:47:34.740992+00",
    "2255-06-05 23:47:34.740994+00",
    "33658-09-27 01:46:40+00",  # 10^18 µs after 1970
    "33658-09-27 01:46:39.999999+00",
    "1969-12-31 23:59:59.999999+00",
    "4714-11-24 00:00:00+00 BC",  # the first instant
    "4714-11-24 00:00:00.000001+00 BC",
]


@pytest.fixture
def extreme(gallery_dsn: str) -> str:
    """The gallery data plus public items at the edges of the timestamp range."""
    with psycopg.connect(gallery_dsn) as conn:
        for n, at in enumerate(EXTREME_TIMES):
            item = 2000 + n
            source = "auto" if n % 2 else "items"
            conn.execute(
                "INSERT INTO content_items_all (id, title, creator_id, source_type, created_at)"
                " VALUES (%s, 'edge', 2, %s, %s)",
                (item, source, at),
            )
            conn.execute(
                "INSERT INTO content_tags VALUES (%s, %s, %s), (%s, %s, %s)",
                (item, source, TAGS[0], item, source, TAGS[20]),
            )
    return gallery_dsn


def walk(
    conn: psycopg.Connection, direction: str, start: str | None, **kwargs: object
) -> list[int]:
    """Every page from start, following row cursors; fails on a repeated position."""
    ids: list[int] = []
    cursor = start
    seen: set[str | None] = set()
    while True:
        assert cursor not in seen, "the walk came back to a cursor it had used"
        seen.add(cursor)
        page = conn.execute(
            "SELECT id, row_cursor FROM gallery_page(tags => %(tags)s::uuid[], cursor => %(c)s,"
            " page_size => %(n)s, match => %(match)s, sources => %(sources)s,"
            " direction => %(d)s, strategy => %(strategy)s)",
            {"c": cursor, "d": direction, **kwargs},
        ).fetchall()
        # pages come newest first in both directions; walking back, each is newer
        got = [r["id"] for r in page]
        ids = ids + got if direction == "next" else got + ids
        if len(page) < kwargs["n"]:
            return ids
        cursor = page[-1]["row_cursor"] if direction == "next" else page[0]["row_cursor"]


@pytest.mark.parametrize(
    ("tags", "match", "strategy", "page_size"),
    [
        (None, "all", None, 1),
        ([TAGS[0], TAGS[20]], "all", "order_first", 1),
        ([TAGS[0], TAGS[20]], "all", "tag_walk", 2),
        ([TAGS[0], TAGS[20]], "all", "tag_array", 2),
        ([TAGS[20], TAGS[13]], "any", "tag_walk", 1),
        ([TAGS[20], TAGS[13]], "any", "tag_array", 3),
    ],
)
def test_extreme_timestamps_page_in_postgresql_order(
    extreme: str, tags: list[str] | None, match: str, strategy: str | None, page_size: int
) -> None:
    with psycopg.connect(extreme, autocommit=True, row_factory=dict_row) as conn:
        expected = [
            r["id"]
            for r in conn.execute(
                "SELECT i.id FROM content_items_all i WHERE NOT i.is_private"
                "   AND (%(tags)s::uuid[] IS NULL OR"
                "        CASE %(match)s WHEN 'all' THEN (SELECT count(*) FROM content_tags l"
                "             WHERE l.content_id = i.id AND l.tag_id = ANY (%(tags)s::uuid[]))"
                "             = cardinality(%(tags)s::uuid[])"
                "        ELSE EXISTS (SELECT 1 FROM content_tags l"
                "             WHERE l.content_id = i.id AND l.tag_id = ANY (%(tags)s::uuid[])) END)"
                " ORDER BY i.created_at DESC, i.id DESC",
                {"tags": tags, "match": match},
            )
        ]
        assert len([i for i in expected if i >= 2000]) == len(EXTREME_TIMES)
        args = {"tags": tags, "match": match, "strategy": strategy, "sources": COMMUNITY}
        forward = walk(conn, "next", None, n=page_size, **args)
        assert forward == expected
        # and back from the oldest item's cursor to the newest
        last = conn.execute(
            "SELECT row_cursor FROM gallery_page(tags => %(tags)s::uuid[], page_size => 100,"
            " match => %(match)s, sources => %(sources)s, strategy => %(strategy)s,"
            " cursor => %(c)s)",
            {**args, "c": None},
        ).fetchall()
        cursor = last[-1]["row_cursor"]
        while True:
            more = conn.execute(
                "SELECT row_cursor FROM gallery_page(tags => %(tags)s::uuid[], page_size => 100,"
                " match => %(match)s, sources => %(sources)s, strategy => %(strategy)s,"
                " cursor => %(c)s)",
                {**args, "c": cursor},
            ).fetchall()
            if not more:
                break
            cursor = more[-1]["row_cursor"]
        backward = walk(conn, "prev", cursor, n=page_size, **args)
        assert [*backward, expected[-1]] == expected


# PostgreSQL's epoch (2000-01-01) in µs since 1970, and its infinite timestamps' values
POSTGRES_EPOCH_US = 946_684_800_000_000
INFINITY_US, MINUS_INFINITY_US = 2**63 - 1, -(2**63)


def position(cursor: str) -> str:
    """A g3 cursor's created_at (16 hex digits of the stored µs since 2000, signed), as the
    g2 cursors of the previous release wrote it: decimal µs since 1970, or +-Infinity."""
    stored = int(cursor.split(".")[1], 16)
    stored -= 2**64 if stored >= 2**63 else 0
    if stored in (INFINITY_US, MINUS_INFINITY_US):
        return "Infinity" if stored > 0 else "-Infinity"
    return str(stored + POSTGRES_EPOCH_US)


def test_cursor_positions_are_exact_integers(extreme: str) -> None:
    with psycopg.connect(extreme, autocommit=True, row_factory=dict_row) as conn:
        page = conn.execute(
            "SELECT id, row_cursor FROM gallery_page(page_size => 8,"
            " sources => '{community-regular,community-auto}')"
        ).fetchall()
        assert all(r["row_cursor"].startswith("g3.") for r in page)
        positions = [position(r["row_cursor"]) for r in page]
        assert positions == [
            "Infinity",
            "Infinity",
            "9224318015999999999",
            "9224318015999999998",
            "9223372036854775808",
            "9223372036854775807",
            "1000000000000000000",
            "999999999999999999",
        ]
        oldest = conn.execute(
            "SELECT row_cursor FROM gallery_page(tags => %s::uuid[], page_size => 100,"
            " sources => '{community-regular,community-auto}', cursor => %s)",
            ([TAGS[20]], None),
        ).fetchall()
        assert [position(r["row_cursor"]) for r in oldest][-3:] == [
            "-210866803199999999",
            "-210866803200000000",
            "-Infinity",
        ]


def test_the_previous_releases_g2_cursors_still_continue(extreme: str) -> None:
    """A g2 cursor (the previous release's: decimal µs since 1970, signed with the same key)
    continues where the g3 cursor of the same row does, at every edge of the range."""
    query = (
        "SELECT id, row_cursor FROM gallery_page(tags => %s::uuid[], page_size => 3,"
        " sources => '{community-regular,community-auto}', cursor => %s, direction => %s)"
    )
    with psycopg.connect(extreme, autocommit=True) as conn:
        rows = conn.execute(  # every item of the tag, the edges of the range included
            "SELECT id, row_cursor FROM gallery_page(tags => %s::uuid[], page_size => 100,"
            " sources => '{community-regular,community-auto}')",
            ([TAGS[20]],),
        ).fetchall()
        for _, g3 in rows:
            _, _, item, filter_hash, _ = g3.split(".")
            payload = f"g2.{position(g3)}.{item}.{filter_hash}"
            (g2,) = conn.execute(
                "SELECT %(p)s || '.' || left(encode(public.hmac(%(p)s, cursor_secret, 'sha256'),"
                " 'hex'), 20) FROM gallery_config",
                {"p": payload},
            ).fetchone()
            for direction in ("next", "prev"):
                expected = conn.execute(query, ([TAGS[20]], g3, direction)).fetchall()
                answered = conn.execute(query, ([TAGS[20]], g2, direction)).fetchall()
                assert [r[0] for r in answered] == [r[0] for r in expected], (g2, direction)


# -- item 6: the argument contract ------------------------------------------------------

PLAN_SQL = """
SELECT * FROM gallery_plan(tags => %(tags)s::uuid[], match => %(match)s,
                           sources => %(sources)s::text[], viewer_id => %(viewer)s,
                           page_size => %(page_size)s)
"""
PAGE_SQL = """
SELECT * FROM gallery_page(tags => %(tags)s::uuid[], match => %(match)s,
                           sources => %(sources)s::text[], viewer_id => %(viewer)s,
                           page_size => %(page_size)s, strategy => %(strategy)s)
"""

BAD_ARGUMENTS = [
    ({"tags": [[TAGS[0]], [TAGS[1]]]}, "tags must be a one-dimensional array"),
    ({"sources": [COMMUNITY]}, "sources must be a one-dimensional array"),
    ({"match": "some"}, "match must be 'all' or 'any', got 'some'"),
    ({"match": None}, "match must be 'all' or 'any', got NULL"),
    ({"sources": []}, "sources must name at least one source"),
    ({"sources": ["everyone"]}, "sources contains 'everyone', which is not a source"),
    ({"sources": ["community-auto", None]}, "sources contains NULL"),
    ({"sources": ["user-auto"]}, "sources user-regular and user-auto need viewer_id"),
    ({"tags": [TAGS[0], None]}, "tags must not contain NULL"),
    ({"page_size": 0}, "page_size must be between 1 and 100, got 0"),
    ({"page_size": None}, "page_size must be between 1 and 100, got NULL"),
    (
        {"tags": [f"00000000-0000-0000-0000-{n:012d}" for n in range(100, 121)]},
        "tags has 21 distinct tags, more than the 20 allowed",
    ),
    ({"tags": [TAGS[0]] * 1001}, "tags has 1001 elements, more than the 1000 allowed"),
    # gallery_page only (gallery_plan takes no strategy)
    ({"strategy": "fastest"}, "must be one of order_first, tag_walk, tag_merge, tag_array"),
    ({"strategy": "tag_walk"}, "strategy tag_walk needs tags"),
]


@pytest.mark.parametrize("function", ["gallery_page", "gallery_plan"])
@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS, ids=[m for _, m in BAD_ARGUMENTS])
def test_both_entry_points_check_arguments_alike(
    gallery_readonly: str, function: str, kwargs: dict, message: str
) -> None:
    if function == "gallery_plan" and "strategy" in kwargs:
        pytest.skip("gallery_plan takes no strategy")
    args = {
        "tags": None,
        "match": "all",
        "sources": COMMUNITY,
        "viewer": None,
        "page_size": 25,
        "strategy": None,
        **kwargs,
    }
    with (
        psycopg.connect(gallery_readonly, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InvalidParameterValue) as raised,
    ):
        conn.execute(PAGE_SQL if function == "gallery_page" else PLAN_SQL, args)
    assert message in raised.value.diag.message_primary
    assert raised.value.diag.message_hint
    assert raised.value.diag.sqlstate == "22023"


@pytest.mark.parametrize("function", ["gallery_page", "gallery_plan"])
def test_a_million_tags_are_refused_at_once(gallery_readonly: str, function: str) -> None:
    with psycopg.connect(gallery_readonly, autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE many AS SELECT array_agg(gen_random_uuid()) AS tags"
            "  FROM generate_series(1, 1000000)"
        )
        conn.execute("SELECT cardinality(tags) FROM many")  # warm
        started = time.monotonic()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="more than the"):
            conn.execute(
                f"SELECT * FROM {function}(tags => (SELECT tags FROM many),"
                " sources => '{community-regular,community-auto}')"
            )
        assert time.monotonic() - started < 0.3  # was 0.8-2.4 s


def test_a_new_install_signs_cursors_with_a_random_key(deployed_dsn: str) -> None:
    [(secret, default)] = rows(
        deployed_dsn,
        "SELECT c.cursor_secret, pg_get_expr(d.adbin, d.adrelid)"
        "  FROM gallery_config c, pg_attrdef d JOIN pg_attribute a"
        "    ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
        " WHERE d.adrelid = 'gallery_config'::regclass AND a.attname = 'cursor_secret'",
    )
    assert "gen_random_bytes(32)" in default
    assert len(secret) == 64 and int(secret, 16) >= 0
    # an existing install keeps its key (and so its cursors) when it upgrades
    rolled_back = api.rollback(deployed_dsn, SQL_DIR, to="0007").rolled_back
    assert rolled_back[-1] == "0008_tag_nos_at_commit_random_secret"
    execute(deployed_dsn, "UPDATE gallery_config SET cursor_secret = repeat('k', 32)")
    api.apply(deployed_dsn, SQL_DIR)
    assert rows(deployed_dsn, "SELECT cursor_secret FROM gallery_config") == [("k" * 32,)]


# -- item 7: an adoption killed during its preparation ---------------------------------

GATE = 7_700_701  # advisory lock key: the test holds it while a statement waits at the gate

GATE_SQL = """
CREATE FUNCTION test_gate() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_query() ~ %(pattern)s THEN
        PERFORM pg_advisory_lock_shared(%(gate)s);
        PERFORM pg_advisory_unlock_shared(%(gate)s);
    END IF;
END
$$;
CREATE EVENT TRIGGER test_gate ON ddl_command_start EXECUTE FUNCTION test_gate();
"""


def layout(dsn: str) -> dict[str, list[tuple]]:
    with psycopg.connect(dsn) as conn:
        return {
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default"
                "  FROM information_schema.columns WHERE table_schema = 'public'"
                "   AND table_name NOT LIKE '\\_yoyo%%' ORDER BY 1, 2"
            ).fetchall(),
            "indexes": conn.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid,"
                "       obj_description(i.indexrelid, 'pg_class')"
                "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE '\\_yoyo%%'"
                " ORDER BY 1"
            ).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated"
                "  FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                "   AND conrelid::regclass::text NOT LIKE '\\_yoyo%%' ORDER BY 1, 2"
            ).fetchall(),
            "origin": conn.execute(
                "SELECT object_name, origin, detail FROM gallery_schema_origin ORDER BY 1"
            ).fetchall()
            if conn.execute("SELECT to_regclass('gallery_schema_origin')").fetchone()[0]
            else [],
        }


@pytest.fixture
def second_reference(cluster, reference_db_template) -> Iterator[str]:
    """Another clone of the reference database, adopted without interruption."""
    name = "reference_uninterrupted"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{reference_db_template.template_dbname}"')
    try:
        yield cluster.url(name)
    finally:
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def preparation_backend(monitor: psycopg.Connection, wait_event: str) -> int | None:
    row = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        "   AND pid <> pg_backend_pid() AND wait_event = %s",
        (wait_event,),
    ).fetchone()
    return None if row is None else row[0]


@pytest.mark.parametrize("during", ["validate", "index build"])
def test_a_killed_preparation_resumes_on_the_next_apply(
    reference_dsn: str, second_reference: str, during: str
) -> None:
    api.apply(second_reference, SQL_DIR)
    expected = layout(second_reference)
    before = layout(reference_dsn)

    pattern = (
        'VALIDATE CONSTRAINT "content_items_auto_partition_check"'
        if during == "validate"
        else 'CREATE INDEX CONCURRENTLY "content_items_auto_created_at_id_idx"'
    )
    execute(reference_dsn, GATE_SQL % {"pattern": f"'{pattern}'", "gate": GATE})
    monitor = psycopg.connect(reference_dsn, autocommit=True)
    writer = psycopg.connect(reference_dsn)
    try:
        monitor.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        apply = Worker(lambda: api.apply(reference_dsn, SQL_DIR))
        apply.start()
        pid = None

        def at_gate() -> bool:
            nonlocal pid
            pid = preparation_backend(monitor, "advisory")
            return pid is not None or not apply.is_alive()

        wait_until(at_gate, "the preparation to reach the statement")
        assert pid is not None, apply.error
        if during == "index build":
            # an open transaction that wrote to the table: the build, once its index is in
            # the catalog (INVALID), waits for it to end
            writer.execute("UPDATE content_items_auto SET title = title WHERE id = 1")
            monitor.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
            wait_until(
                lambda: preparation_backend(monitor, "virtualxid") == pid,
                "the index build to wait for the writer",
            )
        monitor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(api.deploy.DeployError) as raised:
            apply.finish()
        assert "it resumes where this one stopped" in (raised.value.hint or "")
        writer.rollback()
        if during == "validate":
            monitor.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
    finally:
        writer.close()
        monitor.close()
    debris = layout(reference_dsn)
    assert debris != before  # the column, and a NOT VALID check or an INVALID index
    if during == "validate":
        assert (
            "content_items_auto",
            "content_items_auto_partition_check",
            "CHECK ((source_type = 'auto'::text)) NOT VALID",
            False,
        ) in [(*c[:2], c[2], c[3]) for c in debris["constraints"]]
    else:
        assert any(
            i[0] == "content_items_auto_created_at_id_idx" and not i[2] for i in debris["indexes"]
        )
    execute(reference_dsn, "DROP EVENT TRIGGER test_gate; DROP FUNCTION test_gate()")

    result = api.apply(reference_dsn, SQL_DIR)

    assert result.applied_migrations
    assert layout(reference_dsn) == expected
    while api.rollback(reference_dsn, SQL_DIR).rolled_back:
        pass
    assert layout(reference_dsn) == before
