"""Adopting a reference-layout database: attach in place, backfill, verify, dual write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

from pydeploy import api, legacy
from pydeploy.cli import main
from tests.conftest import REPO, SQL_DIR


def scalar(dsn: str, query: str, *params: object) -> object:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or None).fetchone()[0]


def execute(dsn: str, query: str, *params: object) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query, params or None)


def layout(dsn: str) -> dict[str, list[tuple]]:
    """Columns, indexes and constraints of the public schema."""
    with psycopg.connect(dsn) as conn:
        return {
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default"
                "  FROM information_schema.columns WHERE table_schema = 'public'"
                "   AND table_name NOT LIKE '\\_yoyo%%' ORDER BY 1, 2"
            ).fetchall(),
            "indexes": conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                "   AND tablename NOT LIKE '\\_yoyo%%' ORDER BY 1"
            ).fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                "  FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                "   AND conrelid::regclass::text NOT LIKE '\\_yoyo%%' ORDER BY 1, 2"
            ).fetchall(),
        }


def content_fingerprint(dsn: str) -> list[tuple]:
    """Every item with its tags, whichever table holds them."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT 'items', id, title, created_at, is_private, creator_id, tags"
            "  FROM content_items UNION ALL"
            " SELECT 'auto', id, title, created_at, is_private, creator_id, tags"
            "  FROM content_items_auto ORDER BY 1, 2"
        ).fetchall()


def links_from_arrays(dsn: str) -> int:
    return scalar(
        dsn,
        "SELECT count(*) FROM content_items_all i,"
        " LATERAL (SELECT DISTINCT t FROM unnest(i.tags) t) u",
    )


@pytest.fixture
def adopted(reference_dsn: str) -> str:
    api.apply(reference_dsn, SQL_DIR)
    return reference_dsn


def test_adoption_attaches_tables_in_place_and_keeps_everything(reference_dsn: str) -> None:
    before = content_fingerprint(reference_dsn)
    files = {
        t: scalar(reference_dsn, "SELECT pg_relation_filenode(%s)", t)
        for t in ("content_items", "content_items_auto")
    }
    legacy_indexes = {i for i, _ in layout(reference_dsn)["indexes"]}

    api.apply(reference_dsn, SQL_DIR)

    assert content_fingerprint(reference_dsn) == before
    for table, filenode in files.items():  # same storage: no row was copied or rewritten
        assert scalar(reference_dsn, "SELECT pg_relation_filenode(%s)", table) == filenode
    assert legacy_indexes <= {i for i, _ in layout(reference_dsn)["indexes"]}
    partitions = scalar(
        reference_dsn,
        "SELECT array_agg(inhrelid::regclass::text ORDER BY 1) FROM pg_inherits"
        " WHERE inhparent = 'content_items_all'::regclass",
    )
    assert partitions == ["content_items", "content_items_auto"]
    assert scalar(reference_dsn, "SELECT count(*) FROM content_items_all") == len(before)
    # the reference data's own keyset index was adopted, not duplicated
    assert (
        scalar(
            reference_dsn,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'content_items'"
            " AND indexdef LIKE '%%(created_at DESC, id DESC)'",
        )
        == 1
    )
    # new ids come after every adopted id
    execute(
        reference_dsn,
        "INSERT INTO content_items_all (title, content_type, creator_id, source_type)"
        " VALUES ('new', 'image', 1, 'auto')",
    )
    assert scalar(reference_dsn, "SELECT max(id) FROM content_items_auto") == len(before) + 1


def test_adoption_rolls_back_to_the_reference_layout(reference_dsn: str) -> None:
    before = layout(reference_dsn)
    fingerprint = content_fingerprint(reference_dsn)
    api.apply(reference_dsn, SQL_DIR)

    while api.rollback(reference_dsn, SQL_DIR).rolled_back:
        pass

    assert layout(reference_dsn) == before
    assert content_fingerprint(reference_dsn) == fingerprint


def test_adoption_refuses_tables_whose_columns_disagree(reference_dsn: str) -> None:
    execute(reference_dsn, "ALTER TABLE content_items_auto ALTER COLUMN prompt TYPE varchar(1000)")
    before = layout(reference_dsn)

    with pytest.raises(api.deploy.DeployError, match=r"column content_items\.prompt is text"):
        api.apply(reference_dsn, SQL_DIR)

    assert layout(reference_dsn) == before


def test_backfill_then_verify(adopted: str) -> None:
    expected = links_from_arrays(adopted)
    remaining = api.backfill_plan(adopted, chunk_items=300)
    assert sum(remaining.values()) == scalar(adopted, "SELECT count(*) FROM content_items_all")

    result = api.backfill(adopted, jobs=2)

    assert result.links == expected
    assert scalar(adopted, "SELECT count(*) FROM content_tags") == expected
    assert api.verify(adopted, sample=500).ok
    # idempotent: nothing left to do, nothing inserted twice
    assert api.backfill_plan(adopted) == {"items": 0, "auto": 0}
    assert api.backfill(adopted).links == 0
    api.backfill_plan(adopted, restart=True)
    assert api.backfill(adopted).links == 0
    assert scalar(adopted, "SELECT count(*) FROM content_tags") == expected


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_interrupted_backfill_resumes_exactly(adopted: str, how: signal.Signals) -> None:
    expected = links_from_arrays(adopted)
    # The tenth chunk's first item stays locked until the interrupt has landed: the
    # backfill (one job, chunks in order) waits there however fast it ran until then.
    api.backfill_plan(adopted, chunk_items=5)
    with psycopg.connect(adopted) as blocker:  # its transaction holds the lock until the end
        source, first_id = blocker.execute(
            "SELECT source_type, first_id FROM legacy_tags_backfill"
            " ORDER BY source_type, first_id LIMIT 1 OFFSET 9"
        ).fetchone()
        blocker.execute(
            f"SELECT 1 FROM {legacy.PARTITIONS[source]} WHERE id = %s FOR UPDATE", (first_id,)
        )
        command = [
            sys.executable,
            "-m",
            "pydeploy",
            "backfill",
            "--dsn",
            adopted,
            "--batch-size",
            "5",  # many small chunks: the interrupt lands long before the last one
            "--jobs",
            "1",
        ]
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # ctrl-c as at a terminal: a suite started in the background (`cmd &` in a script)
            # inherits SIGINT ignored, and Python then keeps ignoring it
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        done = "SELECT count(*) FROM legacy_tags_backfill WHERE done_at IS NOT NULL"
        while scalar(adopted, done) < 9:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        os.kill(process.pid, how)
        time.sleep(0.5)  # the interrupt handled while the chunk in hand waits
    process.wait(30)
    partial = scalar(adopted, "SELECT count(*) FROM content_tags")
    assert 0 < partial < expected
    if how == signal.SIGINT:
        assert process.returncode == 130
        assert b"run `pydeploy backfill` to resume" in process.stderr.read()

    out = CliRunner().invoke(main, ["backfill", "--dsn", adopted])

    assert out.exit_code == 0, out.output
    assert scalar(adopted, "SELECT count(*) FROM content_tags") == expected
    assert api.verify(adopted).ok


def test_verify_detects_planted_mismatches(adopted: str) -> None:
    api.backfill_plan(adopted)
    api.backfill(adopted)
    item, tag = (
        psycopg.connect(adopted)
        .execute("SELECT content_id, tag_id FROM content_tags ORDER BY 1, 2 LIMIT 1")
        .fetchone()
    )
    execute(adopted, "DELETE FROM content_tags WHERE content_id = %s AND tag_id = %s", item, tag)

    report = api.verify(adopted, sample=100_000)

    assert not report.ok
    assert [(t.tag_id, t.items_with_tag_in_array - t.links) for t in report.tags] == [(str(tag), 1)]
    assert [(i.id, i.only_in_array, i.only_in_links) for i in report.items] == [
        (item, [str(tag)], [])
    ]
    out = CliRunner().invoke(main, ["verify", "--dsn", adopted])
    assert out.exit_code == 1 and "MISMATCH" in out.output


def test_unknown_tag_ids_in_arrays_are_skipped_and_reported(adopted: str) -> None:
    execute(adopted, "ALTER TABLE content_items_auto DISABLE TRIGGER USER")
    execute(
        adopted,
        "UPDATE content_items_auto SET tags = tags || '00000000-0000-0000-0000-0000000000ff'::uuid"
        " WHERE id = (SELECT min(id) FROM content_items_auto)",
    )
    execute(adopted, "ALTER TABLE content_items_auto ENABLE TRIGGER USER")
    api.backfill_plan(adopted)

    result = api.backfill(adopted)

    assert result.unknown_tags == 1
    report = api.verify(adopted, sample=10)
    assert [(t.tag_id, t.tag_exists) for t in report.tags] == [
        ("00000000-0000-0000-0000-0000000000ff", False)
    ]


def test_dual_write_keeps_links_equal_to_the_array(adopted: str) -> None:
    tags = [
        str(t)
        for (t,) in psycopg.connect(adopted).execute("SELECT id FROM tags ORDER BY name LIMIT 3")
    ]

    def links(item_id: int) -> list[str]:
        with psycopg.connect(adopted) as conn:
            return [
                str(t)
                for (t,) in conn.execute(
                    "SELECT tag_id FROM content_tags WHERE content_id = %s ORDER BY tag_id::text",
                    (item_id,),
                )
            ]

    item_id = scalar(
        adopted,
        "INSERT INTO content_items_all (title, content_type, creator_id, source_type, tags)"
        " VALUES ('dual', 'image', 1, 'items', %s::uuid[]) RETURNING id",
        [tags[0], tags[1], tags[1]],
    )
    assert links(item_id) == sorted(tags[:2])
    execute(
        adopted,
        "UPDATE content_items_all SET tags = %s::uuid[] WHERE id = %s",
        [tags[2], tags[1]],
        item_id,
    )
    assert links(item_id) == sorted(tags[1:])
    execute(adopted, "UPDATE content_items_all SET tags = '{}' WHERE id = %s", item_id)
    assert links(item_id) == []
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        execute(
            adopted,
            "UPDATE content_items_all SET tags = '{00000000-0000-0000-0000-0000000000ff}'"
            " WHERE id = %s",
            item_id,
        )


def test_backfill_is_safe_under_concurrent_writes(adopted: str) -> None:
    api.backfill_plan(adopted, chunk_items=50)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with psycopg.connect(adopted, autocommit=True) as conn:
                while not stop.is_set():
                    conn.execute(
                        "UPDATE content_items_all SET tags = tags[2:] || tags[1:1]"
                        " WHERE id = (SELECT id FROM content_items_all"
                        "             WHERE cardinality(tags) > 1 ORDER BY random() LIMIT 1)"
                    )
                    conn.execute(
                        "INSERT INTO content_items_all (title, content_type, creator_id,"
                        " source_type, tags) SELECT 'w', 'image', 1, 'auto', ARRAY(SELECT id"
                        " FROM tags ORDER BY random() LIMIT 5)"
                    )
                    conn.execute(
                        "DELETE FROM content_items_all WHERE id = (SELECT id FROM content_items"
                        " ORDER BY random() LIMIT 1)"
                    )
        except BaseException as e:
            errors.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        api.backfill(adopted, jobs=2)
    finally:
        stop.set()
        writer.join()

    assert errors == []
    report = api.verify(adopted, sample=100_000)
    assert report.ok, (report.tags[:3], report.items[:3])


def test_backfill_on_a_fresh_database_has_nothing_to_do(deployed_dsn: str) -> None:
    out = CliRunner().invoke(main, ["backfill", "--dsn", deployed_dsn])
    assert out.exit_code == 0
    assert "nothing to do" in out.output


def test_dry_run_lists_the_online_preparation_and_changes_nothing(reference_dsn: str) -> None:
    before = layout(reference_dsn)

    result = api.apply(reference_dsn, SQL_DIR, dry_run=True)

    assert layout(reference_dsn) == before
    assert "add column content_items.source_type DEFAULT 'items'" in result.adoption_steps
    assert "build index content_items_auto_created_at_id_idx concurrently" in result.adoption_steps
    assert not any("content_items_created_at_id_idx" in s for s in result.adoption_steps)
    assert api.apply(reference_dsn, SQL_DIR).adoption_steps == result.adoption_steps
