"""The data model: fresh install, routing through the parent, integrity, plans, rollback."""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest

from pydeploy import api, postings
from tests.conftest import SQL_DIR


def rows(dsn: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or None).fetchall()


def execute(dsn: str, query: str, *params: object) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query, params or None)


def plan(dsn: str, query: str) -> str:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET enable_seqscan = off")  # tiny tables: show the indexed plan
        return "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + query))


@pytest.fixture
def gallery(deployed_dsn: str) -> str:
    """A deployed database with two users, three tags, items in both partitions."""
    execute(
        deployed_dsn,
        """
        INSERT INTO users (id, username) VALUES (1, 'ann'), (2, 'bob');
        INSERT INTO tags (id, name) VALUES
            ('00000000-0000-0000-0000-000000000001', 'cat'),
            ('00000000-0000-0000-0000-000000000002', 'dog'),
            ('00000000-0000-0000-0000-000000000003', 'owl');
        INSERT INTO content_items_all (title, creator_id, source_type, created_at)
        SELECT 'item ' || g, 1 + g % 2, CASE WHEN g % 3 = 0 THEN 'items' ELSE 'auto' END,
               timestamptz '2025-01-01' + g * interval '1 hour'
          FROM generate_series(1, 30) g;
        INSERT INTO content_tags
        SELECT i.id, i.source_type, t.id FROM content_items_all i, tags t
         WHERE (i.id + ascii(t.name)) % 2 = 0 OR i.id % 5 = 0;
        """,
    )
    return deployed_dsn


def test_fresh_apply_creates_the_data_model(deployed_dsn: str) -> None:
    tables = rows(
        deployed_dsn,
        "SELECT c.relname, c.relkind, coalesce(pg_get_expr(c.relpartbound, c.oid), '')"
        "  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
        "   AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_yoyo%' ORDER BY 1",
    )
    assert tables == [
        ("content_items", "r", "FOR VALUES IN ('items')"),
        ("content_items_all", "p", ""),
        ("content_items_auto", "r", "FOR VALUES IN ('auto')"),
        ("content_items_auto_more", "r", ""),
        ("content_items_more", "r", ""),
        ("content_tags", "r", ""),
        ("count_sample_bits", "r", ""),
        ("gallery_cache_versions", "r", ""),
        ("gallery_config", "r", ""),
        ("gallery_count_memo", "r", ""),
        ("gallery_page_cache", "r", ""),
        ("gallery_plan_memo", "r", ""),
        ("gallery_schema_origin", "r", ""),
        ("gallery_telemetry", "r", ""),
        ("tag_cardinality_stats", "r", ""),
        ("tag_nos_pending", "r", ""),
        ("tag_nos_pending_xact", "r", ""),
        ("tag_pair_stats", "r", ""),
        ("tags", "r", ""),
        ("users", "r", ""),
    ]
    indexes = rows(
        deployed_dsn,
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        " AND tablename IN ('content_items', 'content_items_auto', 'content_items_all',"
        "                   'content_tags') ORDER BY 1, 2",
    )
    assert sorted((t, d.split(" USING ")[1]) for t, d in indexes) == [
        ("content_items", "btree (created_at DESC, id DESC)"),
        ("content_items", "btree (creator_id, created_at DESC, id DESC)"),
        ("content_items", "btree (id)"),
        ("content_items", "gin (tag_nos) WITH (fastupdate='on', gin_pending_list_limit='1024')"),
        ("content_items_all", "btree (created_at DESC, id DESC)"),
        ("content_items_all", "btree (creator_id, created_at DESC, id DESC)"),
        (
            "content_items_all",
            "gin (tag_nos) WITH (fastupdate='on', gin_pending_list_limit='1024')",
        ),
        ("content_items_auto", "btree (created_at DESC, id DESC)"),
        ("content_items_auto", "btree (creator_id, created_at DESC, id DESC)"),
        ("content_items_auto", "btree (id)"),
        (
            "content_items_auto",
            "gin (tag_nos) WITH (fastupdate='on', gin_pending_list_limit='1024')",
        ),
        ("content_tags", "btree (content_id, content_source, tag_id)"),
        (
            "content_tags",
            "btree (tag_id, created_at DESC, content_id DESC) INCLUDE (content_source, is_private)",
        ),
    ]
    # no legacy column, so no dual write and no backfill work list
    assert rows(deployed_dsn, "SELECT to_regclass('legacy_tags_backfill')") == [(None,)]


def test_writes_through_the_parent_land_in_their_partition(gallery: str) -> None:
    counts = rows(
        gallery,
        "SELECT tableoid::regclass::text, source_type, count(*) FROM content_items_all"
        " GROUP BY 1, 2 ORDER BY 1",
    )
    assert counts == [("content_items", "items", 10), ("content_items_auto", "auto", 20)]
    execute(gallery, "UPDATE content_items_all SET title = 'renamed' WHERE id = 3")
    assert rows(gallery, "SELECT title FROM content_items WHERE id = 3") == [("renamed",)]
    execute(gallery, "DELETE FROM content_items_all WHERE id = 4")
    assert rows(gallery, "SELECT count(*) FROM content_items_auto WHERE id = 4") == [(0,)]


def test_ids_are_unique_across_partitions_and_keys_immutable(gallery: str) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation, match="other partition"):
        execute(
            gallery,
            "INSERT INTO content_items_all (id, title, creator_id, source_type)"
            " VALUES (3, 'dup', 1, 'auto')",
        )
    with pytest.raises(psycopg.errors.UniqueViolation):
        execute(gallery, "INSERT INTO content_items (id, creator_id) VALUES (3, 1)")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="source_type"):
        execute(gallery, "UPDATE content_items_all SET source_type = 'auto' WHERE id = 3")
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        execute(gallery, "UPDATE content_items_all SET id = 1000 WHERE id = 3")


def test_links_follow_their_item_and_tag(gallery: str) -> None:
    assert rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id = 10") == [(3,)]
    assert rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id = 8") == [(1,)]
    execute(gallery, "DELETE FROM content_items_all WHERE id = 10")
    assert rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id = 10") == [(0,)]
    execute(gallery, "DELETE FROM content_items_auto WHERE id = 8")  # straight at a partition
    assert rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id = 8") == [(0,)]
    execute(gallery, "DELETE FROM tags WHERE name = 'dog'")
    assert rows(
        gallery,
        "SELECT count(*) FROM content_tags WHERE tag_id = '00000000-0000-0000-0000-000000000002'",
    ) == [(0,)]


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("(999, 'items', '00000000-0000-0000-0000-000000000001')", "no item with id 999"),
        ("(3, 'auto', '00000000-0000-0000-0000-000000000001')", "no item with id 3"),
        ("(3, 'items', '00000000-0000-0000-0000-0000000000ff')", "no tag with id"),
    ],
)
def test_links_to_missing_items_or_tags_are_rejected(gallery: str, link: str, message: str) -> None:
    execute(gallery, "DELETE FROM content_tags WHERE content_id = 3")
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match=message):
        execute(gallery, f"INSERT INTO content_tags VALUES {link}")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        execute(
            gallery,
            "UPDATE content_tags SET content_id = 999 WHERE content_id = 5",
        )


def test_source_filter_prunes_partitions(gallery: str) -> None:
    text = plan(
        gallery,
        "SELECT id FROM content_items_all WHERE source_type = 'auto'"
        " ORDER BY created_at DESC, id DESC LIMIT 25",
    )
    assert "content_items_auto" in text
    assert "on content_items " not in text and "content_items_pkey" not in text


def test_keyset_order_is_a_merge_append_of_index_scans(gallery: str) -> None:
    text = plan(
        gallery,
        "SELECT id FROM content_items_all"
        " WHERE (created_at, id) < ('2025-01-02', 100)"
        " ORDER BY created_at DESC, id DESC LIMIT 25",
    )
    assert "Merge Append" in text
    scans = re.findall(r"Index (?:Only )?Scan using (\w+)", text)
    assert sorted(scans) == [
        "content_items_auto_created_at_id_idx",
        "content_items_created_at_id_idx",
    ]
    assert "Sort" not in text.replace("Sort Key", "")


def test_every_migration_rolls_back(deployed_dsn: str) -> None:
    migrations = sorted(p.stem for p in (SQL_DIR / "migrations").glob("[0-9]*[!k].sql"))
    for expected in reversed(migrations):
        assert api.rollback(deployed_dsn, SQL_DIR).rolled_back == [expected]
    assert rows(
        deployed_dsn,
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relname NOT LIKE '\\_yoyo%'",
    ) == [(0,)]
    api.apply(deployed_dsn, SQL_DIR)
    assert api.status(deployed_dsn, SQL_DIR).in_sync


TAG_NOS_DRIFT_SQL = """
SELECT i.id, i.tag_nos, coalesce(l.nos, '{}')
  FROM content_items_all i
  LEFT JOIN (SELECT ct.content_id, ct.content_source, array_agg(t.tag_no ORDER BY t.tag_no) AS nos
               FROM content_tags ct JOIN tags t ON t.id = ct.tag_id
              GROUP BY 1, 2) l ON l.content_id = i.id AND l.content_source = i.source_type
 WHERE i.tag_nos IS DISTINCT FROM coalesce(l.nos, '{}')
"""


# links whose created_at or is_private is not their item's (content_tags_tag_created_idx)
LINK_DRIFT_SQL = """
SELECT ct.content_id, ct.tag_id, ct.created_at, i.created_at, ct.is_private, i.is_private
  FROM content_tags ct
  LEFT JOIN content_items_all i ON i.id = ct.content_id AND i.source_type = ct.content_source
 WHERE ct.created_at IS DISTINCT FROM i.created_at OR ct.is_private IS DISTINCT FROM i.is_private
"""


def test_tag_nos_follow_content_tags(gallery: str) -> None:
    owl = "00000000-0000-0000-0000-000000000003"
    assert rows(gallery, "SELECT count(*) FROM content_items_all WHERE tag_nos <> '{}'")[0][0] > 10
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    execute(gallery, "DELETE FROM content_tags WHERE content_id % 3 = 0")
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    execute(
        gallery,
        "INSERT INTO content_tags SELECT i.id, i.source_type, t.id FROM content_items_all i, tags t"
        " WHERE i.id % 3 = 0 AND t.name <> 'cat'",
    )
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    execute(
        gallery,
        "UPDATE content_items_all SET created_at = created_at - interval '1 year' WHERE id % 4 = 0",
    )
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    # links re-tagged: dog's become owl's on items without owl (there are some: dog and owl
    # are on items of opposite parity)
    retag = rows(
        gallery,
        "UPDATE content_tags SET tag_id = %s WHERE tag_id = '00000000-0000-0000-0000-000000000002'"
        " AND NOT EXISTS (SELECT 1 FROM content_tags o WHERE o.content_id = content_tags.content_id"
        "                 AND o.tag_id = %s) RETURNING content_id",
        owl,
        owl,
    )
    assert len(retag) > 3
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    # a link moved to another item: one item only loses a tag, the other only gains it
    cat = "00000000-0000-0000-0000-000000000001"
    moved = rows(
        gallery,
        "UPDATE content_tags SET content_id = (SELECT max(i.id) FROM content_items_auto i"
        "  WHERE NOT EXISTS (SELECT 1 FROM content_tags o WHERE o.content_id = i.id"
        "                     AND o.tag_id = %s))"
        " WHERE (content_id, tag_id) = (SELECT min(content_id), %s::uuid FROM content_tags"
        "                                WHERE content_source = 'auto' AND tag_id = %s)"
        " RETURNING content_id",
        cat,
        cat,
        cat,
    )
    assert len(moved) == 1
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    execute(gallery, "DELETE FROM tags WHERE name = 'dog'")
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    assert rows(gallery, LINK_DRIFT_SQL) == []
    execute(gallery, "TRUNCATE content_tags")
    assert rows(gallery, "SELECT count(*) FROM content_items_all WHERE tag_nos <> '{}'") == [(0,)]


def test_tag_nos_cannot_be_written_directly(gallery: str) -> None:
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="derived from content_tags"):
        execute(gallery, "UPDATE content_items_all SET tag_nos = '{1}' WHERE id = 3")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="derived from content_tags"):
        execute(
            gallery,
            "INSERT INTO content_items_all (title, creator_id, source_type, tag_nos)"
            " VALUES ('x', 1, 'auto', '{1}')",
        )
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="tag_no"):
        execute(gallery, "UPDATE tags SET tag_no = tag_no + 100 WHERE name = 'cat'")
    execute(gallery, "UPDATE tags SET name = 'kitten' WHERE name = 'cat'")  # other columns: fine


def test_concurrent_tag_writes_to_one_item_keep_both(gallery: str) -> None:
    execute(gallery, "DELETE FROM content_tags WHERE content_id = 4")
    first = psycopg.connect(gallery)
    second = psycopg.connect(gallery, autocommit=True)
    try:
        first.execute("INSERT INTO content_tags SELECT 4, 'auto', id FROM tags WHERE name = 'cat'")
        waiting = threading.Thread(
            target=second.execute,
            args=("INSERT INTO content_tags SELECT 4, 'auto', id FROM tags WHERE name = 'owl'",),
        )
        waiting.start()  # blocks on the item row the first transaction updated
        waiting.join(0.5)
        first.commit()
        waiting.join()
    finally:
        first.close()
        second.close()
    assert rows(gallery, "SELECT cardinality(tag_nos) FROM content_items_all WHERE id = 4") == [
        (2,)
    ]
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []


def test_tag_nos_are_filled_when_the_migration_is_applied_to_existing_links(gallery: str) -> None:
    assert api.rollback(gallery, SQL_DIR, to="0006").rolled_back[-1] == "0007_item_tag_numbers"
    assert "tag_nos" not in {
        r[0]
        for r in rows(
            gallery,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'content_items_all'::regclass",
        )
    }
    api.apply(gallery, SQL_DIR)
    assert rows(gallery, "SELECT count(*) FROM content_items_all WHERE tag_nos <> '{}'")[0][0] > 10
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []


def test_links_carry_their_items_created_at(gallery: str) -> None:
    assert rows(gallery, "SELECT count(*) FROM content_tags")[0][0] > 30
    assert rows(gallery, LINK_DRIFT_SQL) == []
    # a date a writer passes is checked at commit, a date written later is replaced
    execute(gallery, "DELETE FROM content_tags WHERE content_id IN (3, 4)")
    execute(
        gallery,
        "INSERT INTO content_tags (content_id, content_source, tag_id, created_at)"
        " SELECT i.id, i.source_type, t.id, i.created_at + (i.id - 3) * interval '1 day'"
        "   FROM content_items_all i, tags t WHERE i.id IN (3, 4)",
    )
    execute(gallery, "UPDATE content_tags SET created_at = 'epoch' WHERE content_id % 5 = 1")
    assert rows(gallery, LINK_DRIFT_SQL) == []
    # re-dating an item re-dates its links, in the same transaction
    with psycopg.connect(gallery) as conn:
        conn.execute("UPDATE content_items_all SET created_at = now() WHERE id IN (5, 6)")
        assert conn.execute(LINK_DRIFT_SQL).fetchall() == []
        assert (
            conn.execute(
                "SELECT count(*) FROM content_tags WHERE content_id IN (5, 6)"
                " AND created_at > now() - interval '1 minute'"
            ).fetchone()[0]
            == rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id IN (5, 6)")[0][0]
            > 0
        )
    # an item made private or public passes it to its links, in the same transaction; a
    # value a writer passes is replaced at commit
    with psycopg.connect(gallery) as conn:
        conn.execute("UPDATE content_items_all SET is_private = NOT is_private WHERE id IN (5, 6)")
        assert conn.execute(LINK_DRIFT_SQL).fetchall() == []
    execute(gallery, "DELETE FROM content_tags WHERE content_id = 5")
    execute(
        gallery,
        "INSERT INTO content_tags (content_id, content_source, tag_id, created_at, is_private)"
        " SELECT i.id, i.source_type, t.id, i.created_at, NOT i.is_private"
        "   FROM content_items_all i, tags t WHERE i.id = 5",
    )
    assert rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id = 5")[0][0] > 0
    assert rows(gallery, LINK_DRIFT_SQL) == []
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []


@pytest.mark.parametrize("first", ["link inserted", "item changed"])
@pytest.mark.parametrize(
    "change",
    [
        "created_at = created_at + interval '7 days'",
        "is_private = NOT is_private",
    ],
)
def test_a_link_inserted_while_its_item_changes_takes_the_new_values(
    gallery: str, first: str, change: str
) -> None:
    """The link reads the item's date and privacy before the other transaction commits;
    the commit (which locks the item) must not let it keep the old ones."""
    execute(gallery, "DELETE FROM content_tags WHERE content_id = 4")
    change_item = f"UPDATE content_items_all SET {change} WHERE id = 4"
    link = "INSERT INTO content_tags SELECT 4, 'auto', id FROM tags WHERE name = 'cat'"
    linker = psycopg.connect(gallery)
    changer = psycopg.connect(gallery)
    try:
        if first == "link inserted":
            linker.execute(link)
            changer.execute(change_item)
            changer.commit()  # its links update cannot see the uncommitted link
            linker.commit()
        else:
            changer.execute(change_item)
            linker.execute(link)  # reads the item before the change commits
            committing = threading.Thread(target=linker.commit)
            committing.start()  # waits on the item row the change holds
            committing.join(0.5)
            changer.commit()
            committing.join()
    finally:
        linker.close()
        changer.close()
    assert rows(gallery, "SELECT count(*) FROM content_tags WHERE content_id = 4") == [(1,)]
    assert rows(gallery, LINK_DRIFT_SQL) == []
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []


def session_waiting_on(holder: psycopg.Connection) -> int | None:
    """The pid of a session that waits on a lock ``holder`` holds, within 10 s (None)."""
    for _ in range(100):
        # (a transaction sees the activity as it was at its first look, unless cleared)
        holder.execute("SELECT pg_stat_clear_snapshot()")
        waiting = holder.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE pg_blocking_pids(pid) @> ARRAY[pg_backend_pid()]"
        ).fetchall()
        if waiting:
            return int(waiting[0][0])
        time.sleep(0.1)
    return None


def test_the_time_ordered_tag_index_is_completed_online_and_resumes(gallery: str) -> None:
    """Migration 0011 applied to a table with links leaves the fill and the index to
    pydeploy apply's online steps; an interrupted completion resumes."""
    assert api.rollback(gallery, SQL_DIR, to="0010").rolled_back[-1] == (
        "0011_tag_postings_in_time_order"
    )
    assert api.apply(gallery, SQL_DIR, dry_run=True).online_steps == [
        postings.FILL_DATES,
        postings.FILL_PRIVACY,
        postings.VACUUM,
        postings.BUILD.format(postings.NEW_INDEX),
        postings.DROP.format(postings.OLD_INDEX),
    ]
    # the completion stops (its connection killed) while its fill waits on a locked link
    blocker = psycopg.connect(gallery)
    killed: list[int] = []

    def kill_the_waiting_fill() -> None:
        waiting = session_waiting_on(blocker)
        if waiting is not None:
            blocker.execute("SELECT pg_terminate_backend(%s)", (waiting,))
            killed.append(waiting)
        blocker.rollback()

    killer = threading.Thread(target=kill_the_waiting_fill)

    def on_step(step: str, done: int, total: int) -> None:
        if step.startswith("fill"):  # the migration has committed
            blocker.execute("SELECT 1 FROM content_tags WHERE content_id = 2 FOR UPDATE")
            killer.start()

    try:
        with pytest.raises(postings.CompletionFailed) as failed:
            api.apply(gallery, SQL_DIR, on_step=on_step)
        killer.join()
    finally:
        blocker.close()
    assert killed, "the fill never waited on the locked link"
    assert postings.FILL_DATES in failed.value.message
    assert "0011_tag_postings_in_time_order" in api.status(gallery, SQL_DIR).applied_migrations
    # gallery_plan does not consider tag_walk until its index is there
    plan_reason = "SELECT reason FROM gallery.gallery_plan(ARRAY[%s]::uuid[])"
    cat = "00000000-0000-0000-0000-000000000001"
    assert "tag_walk" not in rows(gallery, plan_reason, cat)[0][0]
    result = api.apply(gallery, SQL_DIR)
    assert result.online_steps[0] == postings.FILL_DATES
    assert api.apply(gallery, SQL_DIR, dry_run=True).online_steps == []
    assert rows(gallery, LINK_DRIFT_SQL) == []
    assert rows(
        gallery,
        "SELECT indexrelid::regclass::text, indisvalid FROM pg_index"
        " WHERE indrelid = 'content_tags'::regclass ORDER BY 1",
    ) == [("content_tags_pkey", True), (postings.NEW_INDEX, True)]
    assert "tag_walk" in rows(gallery, plan_reason, cat)[0][0]


def test_link_privacy_is_completed_online(gallery: str) -> None:
    """Migration 0018 applied to links that have the index without is_private: the links of
    private items are set, the index with is_private built beside the old one, which it
    then replaces under its name; until then gallery_count does not read is_private."""
    api.rollback(gallery, SQL_DIR, to="0017")
    execute(gallery, "UPDATE content_items_all SET is_private = true WHERE id % 3 = 0")
    steps = [
        postings.FILL_PRIVACY,
        postings.VACUUM,
        postings.BUILD.format(postings.BUILD_INDEX),
        postings.DROP.format(postings.NEW_INDEX),
        postings.RENAME,
    ]
    assert api.apply(gallery, SQL_DIR, dry_run=True).online_steps == steps
    # interrupted before its index: the links are right, the count reads the items
    done: list[str] = []

    def stop_before_the_index(step: str, n: int, total: int) -> None:
        done.append(step)
        if step == postings.BUILD.format(postings.BUILD_INDEX):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.apply(gallery, SQL_DIR, on_step=stop_before_the_index)
    assert postings.VACUUM in done
    assert rows(gallery, LINK_DRIFT_SQL) == []
    assert api.apply(gallery, SQL_DIR).online_steps == steps
    assert api.apply(gallery, SQL_DIR, dry_run=True).online_steps == []
    assert rows(gallery, LINK_DRIFT_SQL) == []
    assert rows(
        gallery,
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) LIKE '%is_private)'"
        "  FROM pg_index WHERE indrelid = 'content_tags'::regclass ORDER BY 1",
    ) == [("content_tags_pkey", False), (postings.NEW_INDEX, True)]


def test_the_link_privacy_fill_waits_for_an_item_made_public(gallery: str) -> None:
    """The online fill reads an item as private while another transaction makes it public
    and commits: the fill must wait for that commit and leave the item's links public."""
    api.rollback(gallery, SQL_DIR, to="0017")
    execute(gallery, "UPDATE content_items_all SET is_private = true WHERE id % 3 = 0")
    item = rows(gallery, "SELECT max(content_id) FROM content_tags WHERE content_id % 3 = 0")[0][0]
    changer = psycopg.connect(gallery)
    waited: list[int] = []

    def commit_once_the_fill_waits() -> None:
        waiting = session_waiting_on(changer)
        if waiting is not None:
            waited.append(waiting)
        changer.commit()

    committer = threading.Thread(target=commit_once_the_fill_waits)

    def on_step(step: str, done: int, total: int) -> None:
        if step == postings.FILL_PRIVACY:  # the migration has committed: its trigger is on
            changer.execute(
                "UPDATE content_items_all SET is_private = false WHERE id = %s", (item,)
            )
            committer.start()

    try:
        api.apply(gallery, SQL_DIR, on_step=on_step)
        committer.join()
    finally:
        changer.close()
    assert waited, "the fill never waited on the item"
    assert rows(
        gallery, "SELECT bool_or(is_private) FROM content_tags WHERE content_id = %s", item
    ) == [(False,)]
    assert rows(gallery, LINK_DRIFT_SQL) == []


def test_telemetry_turns_unlogged_keeping_its_rows(gallery: str) -> None:
    """Migration 0021: the rows recorded before stay in the logged table under its new
    name, sampled calls go to the unlogged ring; the rollback brings both sets back into
    one logged table."""
    tables = (
        "SELECT relname::text, relpersistence FROM pg_class"
        " WHERE relname LIKE 'gallery\\_telemetry%' AND relkind = 'r' ORDER BY 1"
    )
    assert rows(gallery, tables) == [("gallery_telemetry", "u")]  # a new database: none kept
    api.rollback(gallery, SQL_DIR, to="0020")
    assert rows(gallery, tables) == [("gallery_telemetry", "p")]
    execute(  # a call recorded by the previous release
        gallery,
        "INSERT INTO gallery_telemetry (strategy, forced, k, match, sources, rows_returned,"
        " duration_ms) VALUES ('order_first', false, 0, 'all', '{community-regular}', 25, 0.5)",
    )
    api.apply(gallery, SQL_DIR)
    assert rows(gallery, tables) == [
        ("gallery_telemetry", "u"),
        ("gallery_telemetry_before_0021", "p"),
    ]
    execute(gallery, "UPDATE gallery_config SET telemetry_sample_rate = 1")
    assert rows(gallery, "SELECT count(*) FROM gallery.gallery_page()") == [(25,)]
    assert rows(gallery, "SELECT count(*) FROM gallery_telemetry_before_0021") == [(1,)]
    assert rows(gallery, "SELECT sum(calls) FROM gallery_telemetry_summary") == [(1,)]
    api.rollback(gallery, SQL_DIR, to="0020")
    assert rows(gallery, tables) == [("gallery_telemetry", "p")]
    assert rows(gallery, "SELECT sum(calls) FROM gallery_telemetry_summary") == [(2,)]
    api.apply(gallery, SQL_DIR)  # the rows, logged, stay where they were
    assert rows(gallery, "SELECT count(*) FROM gallery_telemetry_before_0021") == [(2,)]


def test_cursors_are_signed_with_pgcrypto_in_another_schema(blank_dsn: str) -> None:
    """A database that has pgcrypto in a schema of its own (as managed services do): the
    deploy keeps it there, pages are signed and read back, also after pgcrypto moves."""
    execute(blank_dsn, "CREATE SCHEMA extensions; CREATE EXTENSION pgcrypto SCHEMA extensions")
    api.apply(blank_dsn, SQL_DIR)
    execute(
        blank_dsn,
        """
        INSERT INTO users (id, username) VALUES (1, 'ann');
        INSERT INTO content_items_all (title, creator_id, source_type, created_at)
        SELECT 'item ' || g, 1, 'items', timestamptz '2025-01-01' + g * interval '1 hour'
          FROM generate_series(1, 5) g;
        """,
    )
    pages = "SELECT id, row_cursor FROM gallery.gallery_page(NULL, %s, 2)"
    first = rows(blank_dsn, pages, None)
    assert [r[0] for r in rows(blank_dsn, pages, first[-1][1])] == [3, 2]
    execute(blank_dsn, "CREATE SCHEMA elsewhere; ALTER EXTENSION pgcrypto SET SCHEMA elsewhere")
    assert [r[0] for r in rows(blank_dsn, pages, first[-1][1])] == [3, 2]
    assert rows(
        blank_dsn,
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pgcrypto'",
    ) == [("elsewhere",)]


def test_the_telemetry_migration_waits_for_a_page_in_flight(gallery: str) -> None:
    """0021 on a live database: a page of the previous release has read gallery_config
    (as a page does first) when the migration starts, then writes telemetry. The migration
    locks gallery_config first, so it waits for that transaction instead of deadlocking
    with it (telemetry first, then gallery_config, the two would wait on each other)."""
    api.rollback(gallery, SQL_DIR, to="0020")
    errors: list[Exception] = []

    def migrate() -> None:
        try:
            api.apply(gallery, SQL_DIR)
        except Exception as e:  # (reported below)
            errors.append(e)

    with psycopg.connect(gallery) as in_flight:
        in_flight.execute("SELECT max_tags FROM gallery_config")
        migration = threading.Thread(target=migrate)
        migration.start()
        assert session_waiting_on(in_flight) is not None, errors  # the migration waits
        in_flight.execute(  # then its telemetry, as the previous release writes it
            "INSERT INTO gallery_telemetry (strategy, forced, k, match, sources, rows_returned,"
            " duration_ms) VALUES ('order_first', false, 0, 'all', '{community-regular}', 25, 1)"
        )
        in_flight.commit()
        migration.join(timeout=60)
    assert not migration.is_alive() and errors == []
    assert rows(
        gallery, "SELECT relpersistence FROM pg_class WHERE relname = 'gallery_telemetry'"
    ) == [("u",)]
