"""The data model: fresh install, routing through the parent, integrity, plans, rollback."""

from __future__ import annotations

import re
import threading

import psycopg
import pytest

from pydeploy import api
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
        ("gallery_config", "r", ""),
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
        ("content_tags", "btree (tag_id, content_source, content_id)"),
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
        "UPDATE content_tags SET tag_id = %s WHERE tag_id = '00000000-0000-0000-0000-000000000001'"
        " AND NOT EXISTS (SELECT 1 FROM content_tags o WHERE o.content_id = content_tags.content_id"
        "                 AND o.tag_id = %s)",
        owl,
        owl,
    )
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
    execute(gallery, "DELETE FROM tags WHERE name = 'dog'")
    assert rows(gallery, TAG_NOS_DRIFT_SQL) == []
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
