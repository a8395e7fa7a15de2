"""pydeploy apply / status / rollback against a real PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pydeploy import api
from pydeploy.cli import main
from pydeploy.errors import DeployError

SAMPLE = Path(__file__).parent / "samples" / "project"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the sample SQL tree that a test may edit."""
    target = tmp_path / "sql"
    shutil.copytree(SAMPLE, target)
    return target


def snapshot(dsn: str) -> dict[str, list[tuple]]:
    """Everything a deploy can touch: schemas, relations, columns, functions and their bodies."""
    with psycopg.connect(dsn) as conn:
        return {
            "schemas": conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' ORDER BY 1"
            ).fetchall(),
            "relations": conn.execute(
                "SELECT n.nspname, c.relname, c.relkind FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
                " ORDER BY 1, 2"
            ).fetchall(),
            "columns": conn.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"
            ).fetchall(),
            "functions": conn.execute(
                "SELECT p.oid::regprocedure::text, p.prosrc, p.proacl::text FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            ).fetchall(),
            "yoyo": conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY 1").fetchall()
            if conn.execute("SELECT to_regclass('_yoyo_migration')").fetchone()[0]
            else [],
        }


def scalar(dsn: str, query: str, *params: object) -> object:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchone()[0]


def execute(dsn: str, query: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query)


def test_apply_on_empty_database_creates_everything(blank_dsn: str, project: Path) -> None:
    result = api.apply(blank_dsn, project)

    assert result.applied_migrations == ["0001_widgets", "0002_widget_colour"]
    signatures = [a.signature for a in result.function_actions]
    assert signatures == ["widget_count()", "widget_label(bigint)"]
    execute(blank_dsn, "INSERT INTO widgets VALUES (1, 'cog', 'red')")
    assert scalar(blank_dsn, "SELECT widget_label(1)") == "cog of 1"
    registry = scalar(
        blank_dsn,
        "SELECT array_agg(signature || ' ' || package_version ORDER BY file)"
        " FROM pydeploy.function_registry",
    )
    version = api.deploy.package_version()
    assert registry == [f"widget_count() {version}", f"widget_label(bigint) {version}"]
    assert api.status(blank_dsn, project).in_sync


def test_second_apply_does_nothing(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    before = snapshot(blank_dsn)

    result = api.apply(blank_dsn, project)

    assert not result.changed
    assert snapshot(blank_dsn) == before
    out = CliRunner().invoke(main, ["apply", "--dsn", blank_dsn, "--sql-dir", str(project)])
    assert out.exit_code == 0
    assert "Nothing to do" in out.output


def test_dry_run_changes_nothing(blank_dsn: str, project: Path) -> None:
    before = snapshot(blank_dsn)

    result = api.apply(blank_dsn, project, dry_run=True)

    assert result.applied_migrations == ["0001_widgets", "0002_widget_colour"]
    assert {a.action for a in result.function_actions} == {"create"}
    assert snapshot(blank_dsn) == before


def test_rollback_undoes_last_migration_and_apply_redoes_it(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)

    result = api.rollback(blank_dsn, project)

    assert result.rolled_back == ["0002_widget_colour"]
    assert (
        scalar(
            blank_dsn,
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'colour'",
        )
        == 0
    )
    st = api.status(blank_dsn, project)
    assert st.pending_migrations == ["0002_widget_colour"]
    assert not st.in_sync
    assert api.rollback(blank_dsn, project).rolled_back == ["0001_widgets"]
    assert scalar(blank_dsn, "SELECT to_regclass('widgets')") is None
    assert api.rollback(blank_dsn, project).rolled_back == []

    api.apply(blank_dsn, project)
    assert api.status(blank_dsn, project).in_sync


def test_status_reports_hand_edits_and_apply_restores(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    execute(
        blank_dsn,
        "CREATE OR REPLACE FUNCTION widget_count() RETURNS bigint LANGUAGE sql STABLE"
        " AS 'SELECT 42::bigint'",
    )
    execute(blank_dsn, "DROP FUNCTION widget_label(bigint)")

    states = {f.file: f.state for f in api.status(blank_dsn, project).functions}
    assert states == {"widget_count": "drift", "widget_label": "missing"}
    out = CliRunner().invoke(main, ["status", "--dsn", blank_dsn, "--sql-dir", str(project)])
    assert out.exit_code == 1
    assert "drift" in out.output and "missing" in out.output

    api.apply(blank_dsn, project)
    assert scalar(blank_dsn, "SELECT widget_count()") == 0
    assert api.status(blank_dsn, project).in_sync
    out = CliRunner().invoke(main, ["status", "--dsn", blank_dsn, "--sql-dir", str(project)])
    assert out.exit_code == 0


def test_status_reports_a_migration_edited_after_apply(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    migration = project / "migrations" / "0001_widgets.sql"
    migration.write_text(migration.read_text() + "\n-- edited\n")

    st = api.status(blank_dsn, project)

    assert st.edited_migrations == ["0001_widgets"]
    assert not st.in_sync


def test_changed_file_is_redeployed(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    f = project / "functions" / "widget_count.sql"
    f.write_text(f.read_text().replace("count(*)", "count(*) + 100"))

    assert [s.state for s in api.status(blank_dsn, project).functions if s.state != "ok"] == [
        "changed"
    ]
    result = api.apply(blank_dsn, project)

    assert [a.action for a in result.function_actions] == ["update"]
    assert scalar(blank_dsn, "SELECT widget_count()") == 100


def test_signature_and_return_type_changes_keep_grants(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    execute(blank_dsn, "CREATE ROLE widget_reader")
    try:
        execute(blank_dsn, "REVOKE ALL ON FUNCTION widget_label(bigint) FROM PUBLIC")
        execute(blank_dsn, "GRANT EXECUTE ON FUNCTION widget_label(bigint) TO widget_reader")
        execute(blank_dsn, "REVOKE ALL ON FUNCTION widget_count() FROM PUBLIC")
        execute(blank_dsn, "GRANT EXECUTE ON FUNCTION widget_count() TO widget_reader")
        label = project / "functions" / "widget_label.sql"
        label.write_text(
            label.read_text()
            .replace("(p_id bigint)", "(p_id bigint, p_suffix text DEFAULT '')")
            .replace("widget_count());", "widget_count()) || p_suffix;")
        )
        count = project / "functions" / "widget_count.sql"
        count.write_text(
            count.read_text()
            .replace("RETURNS bigint", "RETURNS integer")
            .replace("count(*)", "count(*)::integer")
        )

        api.apply(blank_dsn, project)

        assert scalar(blank_dsn, "SELECT to_regprocedure('widget_label(bigint)')") is None
        assert scalar(blank_dsn, "SELECT pg_typeof(widget_count())::text") == "integer"
        for signature in ("widget_label(bigint, text)", "widget_count()"):
            assert scalar(
                blank_dsn,
                "SELECT has_function_privilege('widget_reader', %s, 'EXECUTE')",
                signature,
            )
            assert not scalar(
                blank_dsn,
                "SELECT bool_or(grantee = 0) FROM pg_proc, aclexplode(proacl)"
                " WHERE oid = to_regprocedure(%s)",
                signature,
            )
        assert api.status(blank_dsn, project).in_sync
    finally:
        execute(blank_dsn, "DROP OWNED BY widget_reader")
        execute(blank_dsn, "DROP ROLE widget_reader")


def test_removed_file_drops_its_function(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    (project / "functions" / "widget_label.sql").unlink()

    assert [(f.file, f.state) for f in api.status(blank_dsn, project).functions] == [
        ("widget_count", "ok"),
        ("widget_label", "orphaned"),
    ]
    result = api.apply(blank_dsn, project)

    assert [a.action for a in result.function_actions] == ["drop"]
    assert scalar(blank_dsn, "SELECT to_regprocedure('widget_label(bigint)')") is None
    assert api.status(blank_dsn, project).in_sync


@pytest.mark.parametrize("already_applied", [False, True], ids=["fresh", "upgrade"])
def test_broken_function_file_leaves_database_unchanged(
    blank_dsn: str, project: Path, already_applied: bool
) -> None:
    if already_applied:
        api.apply(blank_dsn, project)
    (project / "migrations" / "0003_gadgets.sql").write_text(
        "-- depends: 0002_widget_colour\nCREATE TABLE gadgets (id bigint PRIMARY KEY);\n"
    )
    count = project / "functions" / "widget_count.sql"
    count.write_text(count.read_text().replace("count(*)", "count(*) + 1"))
    (project / "functions" / "zz_broken.sql").write_text(
        "CREATE OR REPLACE FUNCTION zz_broken() RETURNS bigint LANGUAGE sql STABLE"
        " PARALLEL SAFE SET search_path = public, pg_temp"
        " AS $$ SELECT count(*) FROM no_such_table $$;\n"
    )
    before = snapshot(blank_dsn)

    with pytest.raises(DeployError, match=r"zz_broken\.sql.*no_such_table"):
        api.apply(blank_dsn, project)

    assert snapshot(blank_dsn) == before
    out = CliRunner().invoke(main, ["apply", "--dsn", blank_dsn, "--sql-dir", str(project)])
    assert out.exit_code == 1
    assert "nothing was changed" in out.output
    assert snapshot(blank_dsn) == before


def test_broken_migration_leaves_database_unchanged(blank_dsn: str, project: Path) -> None:
    (project / "migrations" / "0003_bad.sql").write_text(
        "-- depends: 0002_widget_colour\nALTER TABLE widgets ADD COLUMN colour text;\n"
    )
    before = snapshot(blank_dsn)

    with pytest.raises(DeployError, match="0003_bad"):
        api.apply(blank_dsn, project)

    assert snapshot(blank_dsn) == before


def test_non_transactional_migration_is_refused(blank_dsn: str, project: Path) -> None:
    (project / "migrations" / "0003_concurrently.sql").write_text(
        "-- transactional: false\n-- depends: 0002_widget_colour\n"
        "CREATE INDEX CONCURRENTLY widgets_name ON widgets (name);\n"
    )
    before = snapshot(blank_dsn)

    with pytest.raises(DeployError, match="transactional: false"):
        api.apply(blank_dsn, project)

    assert snapshot(blank_dsn) == before


def test_concurrent_applies_serialize(blank_dsn: str, project: Path) -> None:
    results: list[api.ApplyResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        try:
            results.append(api.apply(blank_dsn, project))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(len(r.applied_migrations) for r in results) == [0, 0, 2]
    assert scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration") == 2
    assert scalar(blank_dsn, "SELECT count(*) FROM pydeploy.function_registry") == 2
    assert api.status(blank_dsn, project).in_sync
