"""The CLI's promises: one-line errors with their exit codes, JSON for machines,
confirmations before destroying anything, and a local server root can start anywhere."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from pydeploy import api, cli
from pydeploy.cli import main
from pydeploy.db import LIBPQ_VARIABLES
from pydeploy.errors import Refused
from pydeploy.server import SERVER_OS_USER_WHEN_ROOT, LocalServer
from tests.conftest import SQL_DIR

SAMPLE = Path(__file__).parent / "samples" / "project"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def assert_one_line_error(out: Result, exit_code: int, *fragments: str) -> None:
    """The documented exit code; stderr is one `error:` line and at most one HINT line."""
    assert out.exit_code == exit_code, (out.exit_code, out.output)
    assert "Traceback" not in out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    lines = out.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, out.stderr
    assert "error" in lines[0] or "failed" in lines[0]
    if len(lines) == 2:
        assert lines[1].startswith("HINT: ")
    for fragment in fragments:
        assert fragment in out.stderr, (fragment, out.stderr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture
def unreachable_dsn() -> Iterator[str]:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"postgresql://postgres@127.0.0.1:{port}/gallery"


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A listener that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"postgresql://postgres@127.0.0.1:{s.getsockname()[1]}/gallery"


def scalar(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
        return row[0] if row else None


# -- error paths of every command -------------------------------------------------------

COMMANDS = [
    ["apply"],
    ["apply", "--dry-run"],
    ["status"],
    ["health"],
    ["rollback", "--yes"],
    ["rollback", "--dry-run"],
    ["lint", "--deep"],
    ["backfill"],
    ["verify"],
    ["schedule", "--list"],
    ["telemetry"],
    ["stats", "refresh"],
]
IDS = [" ".join(c) for c in COMMANDS]


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
@pytest.mark.parametrize(
    ("dsn", "fragment"),
    [
        ("not a dsn", "invalid connection string"),
        ("mysql://app@db/gallery", "not a PostgreSQL connection string"),
    ],
    ids=["garbage", "mysql"],
)
def test_bad_dsn_is_a_usage_error(command: list[str], dsn: str, fragment: str) -> None:
    assert_one_line_error(run(*command, "--dsn", dsn), 2, fragment)


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_unreachable_server_is_a_connection_error(command: list[str], unreachable_dsn: str) -> None:
    assert_one_line_error(run(*command, "--dsn", unreachable_dsn), 2, "cannot connect")


@pytest.mark.parametrize(
    ("command", "exit_code", "fragment"),
    [
        (["apply", "--dry-run"], 1, "would apply migration 0001_users_and_tags"),
        (["status"], 1, "NOT in sync"),
        (["health"], 0, "healthy"),
        (["rollback", "--yes"], 0, "Nothing to roll back"),
        (["rollback", "--dry-run"], 0, "Nothing to roll back"),
        (["lint", "--deep"], 2, "nothing is deployed here"),
        (["backfill"], 0, "no legacy tags column"),
        (["verify"], 0, "no legacy tags column"),
        (["schedule", "--list"], 0, "no gallery jobs scheduled"),
        (["telemetry"], 2, "the gallery is not deployed here"),
        (["stats", "refresh"], 2, "the gallery is not deployed here"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_empty_database(blank_dsn: str, command: list[str], exit_code: int, fragment: str) -> None:
    out = run(*command, "--dsn", blank_dsn)
    if exit_code == 2:
        assert_one_line_error(out, 2, fragment)
    else:
        assert out.exit_code == exit_code, out.output
        assert fragment in out.output and "Traceback" not in out.output
    assert scalar(blank_dsn, "SELECT to_regclass('tags')") is None  # nothing was deployed


def test_connect_timeout_fails_fast(silent_listener: str) -> None:
    started = time.monotonic()
    out = run("--connect-timeout", "1", "status", "--dsn", silent_listener)
    assert time.monotonic() - started < 10
    assert_one_line_error(out, 2, "no answer within 1s")


def test_connect_timeout_default_and_environment(
    silent_listener: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYDEPLOY_CONNECT_TIMEOUT", "1")
    assert_one_line_error(run("health", "--dsn", silent_listener), 2, "no answer within 1s")
    monkeypatch.setenv("PYDEPLOY_CONNECT_TIMEOUT", "soon")
    assert_one_line_error(run("health", "--dsn", silent_listener), 2, "whole number of seconds")


def test_verify_rejects_a_negative_sample(reference_dsn: str) -> None:
    assert_one_line_error(run("verify", "--sample", "-1", "--dsn", reference_dsn), 2, "--sample")


# -- privileges and read-only sessions ---------------------------------------------------


@pytest.fixture
def reader_dsn(deployed_dsn: str) -> Iterator[str]:
    """The deployed database, as a role that may connect and read, nothing else."""
    role = f"reader_{os.getpid()}"
    dbname = psycopg.conninfo.conninfo_to_dict(deployed_dsn)["dbname"]
    with psycopg.connect(deployed_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT CONNECT ON DATABASE "{dbname}" TO {role}')
        conn.execute(f"GRANT USAGE ON SCHEMA public, pydeploy, gallery TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public, pydeploy TO {role}")
    params = psycopg.conninfo.conninfo_to_dict(deployed_dsn) | {"user": role}
    try:
        yield psycopg.conninfo.make_conninfo("", **params)
    finally:
        with psycopg.connect(deployed_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_without_create_privilege_nothing_to_do_is_fine(reader_dsn: str) -> None:
    out = run("apply", "--dsn", reader_dsn)
    assert out.exit_code == 0 and "Nothing to do" in out.output
    assert run("status", "--dsn", reader_dsn).exit_code == 0


def test_read_only_role_gets_permission_denied_in_one_line(reader_dsn: str) -> None:
    assert_one_line_error(run("stats", "refresh", "--dsn", reader_dsn), 1, "permission denied")
    assert_one_line_error(
        run("rollback", "--yes", "--dsn", reader_dsn), 1, "nothing was changed", "[42501]"
    )


def test_read_only_session(blank_dsn: str, deployed_dsn: str) -> None:
    read_only = "options='-c default_transaction_read_only=on'"
    out = run("apply", "--dsn", f"{blank_dsn} {read_only}")
    assert_one_line_error(out, 1, "read-only")
    assert scalar(blank_dsn, "SELECT to_regclass('tags')") is None
    assert run("apply", "--dsn", f"{deployed_dsn} {read_only}").exit_code == 0  # nothing to do
    assert_one_line_error(
        run("stats", "refresh", "--dsn", f"{deployed_dsn} {read_only}"), 1, "read-only"
    )


def test_backend_killed_during_apply_says_so(blank_dsn: str, project: Path) -> None:
    (project / "migrations" / "0003_slow.sql").write_text(
        "-- depends: 0002_widget_colour\nSELECT pg_sleep(30);\n"
    )
    (project / "migrations" / "0003_slow.rollback.sql").write_text("SELECT 1;\n")

    def kill() -> None:
        deadline = time.monotonic() + 20
        with psycopg.connect(blank_dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE query LIKE '%%pg_sleep(30)%%' AND pid <> pg_backend_pid()"
                ).fetchall()
                if killed:
                    return
                time.sleep(0.1)

    killer = threading.Thread(target=kill)
    killer.start()
    out = run("apply", "--dsn", blank_dsn, "--sql-dir", str(project))
    killer.join()
    assert_one_line_error(out, 1, "nothing was changed", "terminating connection")
    assert "the connection is closed" not in out.stderr
    assert scalar(blank_dsn, "SELECT to_regclass('widgets')") is None


# -- apply ----------------------------------------------------------------------------


def test_apply_refuses_a_directory_that_is_not_an_sql_tree(
    deployed_dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "unrelated.sql").write_text("SELECT 1;\n")
    before = scalar(deployed_dsn, "SELECT count(*) FROM pydeploy.function_registry")
    out = run("apply", "--dsn", deployed_dsn, "--sql-dir", str(tmp_path))
    assert_one_line_error(out, 2, "is not an SQL tree")
    assert scalar(deployed_dsn, "SELECT count(*) FROM pydeploy.function_registry") == before


def test_apply_never_drops_every_function_unasked(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    for f in (project / "functions").glob("*.sql"):
        f.unlink()
    with pytest.raises(Refused, match="drop every function"):
        api.apply(blank_dsn, project)
    assert scalar(blank_dsn, "SELECT count(*) FROM pydeploy.function_registry") == 2


def test_apply_asks_before_dropping_a_function(
    blank_dsn: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.apply(blank_dsn, project)
    (project / "functions" / "widget_label.sql").unlink()
    args = ["apply", "--dsn", blank_dsn, "--sql-dir", str(project)]

    assert_one_line_error(run(*args), 2, "needs a confirmation", "nothing was changed")
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    out = run(*args, input="n\n")
    assert out.exit_code == 1 and "cancelled" in out.stderr
    assert "will drop function widget_label(bigint)" in out.stderr
    assert scalar(blank_dsn, "SELECT to_regprocedure('widget_label(bigint)')") is not None

    out = run(*args, "--yes", "--format", "json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["functions"] == [
        {
            "file": "widget_label",
            "signature": "widget_label(bigint)",
            "state": "orphaned",
            "action": "drop",
        }
    ]
    assert scalar(blank_dsn, "SELECT to_regprocedure('widget_label(bigint)')") is None


def test_apply_dry_run_exit_codes_and_json(blank_dsn: str, project: Path) -> None:
    args = ["apply", "--dsn", blank_dsn, "--sql-dir", str(project)]
    out = run(*args, "--dry-run", "--format", "json")
    assert out.exit_code == 1
    plan = json.loads(out.stdout)
    assert plan["dry_run"] is True and plan["changed"] is True
    assert plan["migrations"] == ["0001_widgets", "0002_widget_colour"]
    assert [f["signature"] for f in plan["functions"]] == ["widget_count()", "widget_label(bigint)"]
    assert {f["action"] for f in plan["functions"]} == {"create"}

    out = run(*args, "--format", "json")
    assert out.exit_code == 0
    done = json.loads(out.stdout)
    assert done["dry_run"] is False and done["migrations"] == plan["migrations"]
    assert done["functions"] == plan["functions"]  # signatures printed one way
    assert isinstance(done["seconds"], float)
    status = json.loads(
        run("status", "--dsn", blank_dsn, "--sql-dir", str(project), "--format", "json").stdout
    )
    assert [f["signature"] for f in status["functions"]] == [
        f["signature"] for f in plan["functions"]
    ]

    out = run(*args, "--dry-run")
    assert out.exit_code == 0 and "Nothing to do" in out.output
    assert json.loads(run(*args, "--dry-run", "--format", "json").stdout)["changed"] is False


# -- rollback -------------------------------------------------------------------------


def test_rollback_refuses_without_yes_when_not_interactive(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    out = run("rollback", "--dsn", blank_dsn, "--sql-dir", str(project))
    assert_one_line_error(out, 2, "needs a confirmation", "--yes")
    assert scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration") == 2


def test_rollback_asks_on_a_terminal_and_says_what_it_destroys(
    blank_dsn: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.apply(blank_dsn, project)
    with psycopg.connect(blank_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO widgets SELECT g, 'w' || g, 'red' FROM generate_series(1, 3) g")
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    args = ["rollback", "--dsn", blank_dsn, "--sql-dir", str(project)]

    out = run(*args, input="n\n")
    assert out.exit_code == 1 and "rollback cancelled: nothing was changed" in out.stderr
    assert "DESTROYS column widgets.colour (3 rows)" in out.stderr
    assert scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration") == 2

    out = run(*args, input="y\n")
    assert out.exit_code == 0, out.output
    assert "rolled back migration 0002_widget_colour" in out.stdout
    assert scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration") == 1


def test_rollback_dry_run_prints_the_sql_and_the_data(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    with psycopg.connect(blank_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO widgets VALUES (1, 'cog', 'red'), (2, 'gear', NULL)")
    before = scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration")
    args = ["rollback", "--dsn", blank_dsn, "--sql-dir", str(project), "--to", "0"]

    out = run(*args, "--dry-run")
    assert out.exit_code == 0
    assert "ALTER TABLE widgets DROP COLUMN colour;" in out.stdout
    assert "DROP TABLE widgets;" in out.stdout
    assert "DESTROYS table widgets (2 rows)" in out.stdout
    plan = json.loads(run(*args, "--dry-run", "--format", "json").stdout)
    assert plan["dry_run"] is True and plan["to"] == "0"
    assert [m["id"] for m in plan["migrations"]] == ["0002_widget_colour", "0001_widgets"]
    loss = plan["migrations"][1]["data_loss"][0]
    assert (loss["kind"], loss["name"], loss["rows"]) == ("table", "widgets", 2)
    assert "DROP TABLE widgets" in plan["migrations"][1]["sql"]
    assert scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration") == before


def test_rollback_to_a_version(blank_dsn: str, project: Path) -> None:
    api.apply(blank_dsn, project)
    args = ["rollback", "--dsn", blank_dsn, "--sql-dir", str(project), "--yes"]
    assert_one_line_error(run(*args, "--to", "0009"), 2, "not an applied migration")

    out = run(*args, "--to", "0001", "--format", "json")
    assert out.exit_code == 0, out.output
    assert [m["id"] for m in json.loads(out.stdout)["migrations"]] == ["0002_widget_colour"]
    assert scalar(blank_dsn, "SELECT to_regclass('widgets')") is not None

    out = run(*args, "--to", "0")
    assert out.exit_code == 0 and "rolled back migration 0001_widgets" in out.stdout
    assert scalar(blank_dsn, "SELECT to_regclass('widgets')") is None


def test_rollback_refuses_when_the_database_changed_since_the_plan(
    blank_dsn: str, project: Path
) -> None:
    api.apply(blank_dsn, project)
    with pytest.raises(Refused, match="changed since the plan"):
        api.rollback(blank_dsn, project, expected=["0001_widgets"])
    assert scalar(blank_dsn, "SELECT count(*) FROM _yoyo_migration") == 2


def test_rollback_on_the_real_package_lists_what_it_destroys(gallery_dsn: str) -> None:
    plan = api.rollback(gallery_dsn, SQL_DIR, to="0006", dry_run=True)
    assert plan.rolled_back[-1] == "0007_item_tag_numbers"
    described = [str(d) for d in plan.data_loss]
    assert "column content_items_all.tag_nos (800 rows)" in described
    assert "column tags.tag_no (24 rows)" in described


# -- stats, telemetry -----------------------------------------------------------------


def test_stats_refresh_on_a_fresh_empty_deployment(deployed_dsn: str) -> None:
    out = run("stats", "refresh", "--dsn", deployed_dsn)
    assert out.exit_code == 0 and "refreshed 0 tag/source counts (0 links)" in out.output
    out = run("stats", "refresh", "--dsn", deployed_dsn, "--format", "json")
    result = json.loads(out.stdout)
    assert (result["refreshed"], result["tag_rows"], result["links"]) == (True, 0, 0)
    assert api.stats_refresh(deployed_dsn).links == 0


def test_telemetry_json(deployed_dsn: str) -> None:
    out = run("telemetry", "--dsn", deployed_dsn, "--format", "json")
    assert out.exit_code == 0 and json.loads(out.stdout) == []


# -- lint -----------------------------------------------------------------------------


def test_reasoned_noqa_suppresses_and_rules_select(tmp_path: Path) -> None:
    sql = tmp_path / "report.sql"
    sql.write_text(
        "SELECT 1 OFFSET 5;  -- noqa: PD006 a one-off admin report, never paginated\n"
        "SELECT 2 OFFSET 5;\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
    )
    codes = [(f.code, f.line) for f in api.lint([sql])]
    assert ("PD006", 1) not in codes and ("PD006", 2) in codes
    assert {c for c, _ in codes} == {"PD002", "PD003", "PD006", "PD008"}
    assert {f.code for f in api.lint([sql], rules=["PD006"])} == {"PD006"}
    assert "PD006" not in {f.code for f in api.lint([sql], exclude_rules=["PD006"])}

    out = run("lint", str(sql), "--rules", "PD002,PD003", "--format", "json")
    assert out.exit_code == 1
    assert sorted({f["code"] for f in json.loads(out.stdout)}) == ["PD002", "PD003"]
    assert run("lint", str(sql), "--exclude-rules", "PD002,PD003,PD006,PD008").exit_code == 0
    assert_one_line_error(run("lint", str(sql), "--rules", "PD042"), 2, "unknown rule PD042")


def test_baseline_tolerates_known_findings_only(tmp_path: Path) -> None:
    sql = tmp_path / "report.sql"
    sql.write_text("SELECT 1 OFFSET 5;\n")
    baseline = tmp_path / "baseline.txt"
    assert run("lint", str(sql), "--write-baseline", str(baseline)).exit_code == 0
    out = run("lint", str(sql), "--baseline", str(baseline))
    assert out.exit_code == 0 and "1 known finding" in out.output

    sql.write_text("SELECT 1 OFFSET 5;\nSELECT 1;\nCREATE FUNCTION g() RETURNS int AS 'x';\n")
    out = run("lint", str(sql), "--baseline", str(baseline), "--format", "json")
    assert out.exit_code == 1
    report = json.loads(out.stdout)
    assert len(report["known"]) == 1 and report["findings"]
    assert all(f["code"] != "PD006" for f in report["findings"])


def test_deep_lint_checks_trigger_functions_of_migrations(blank_dsn: str, project: Path) -> None:
    (project / "migrations" / "0003_trigger.sql").write_text(
        "-- depends: 0002_widget_colour\n"
        "CREATE FUNCTION widgets_touch() RETURNS trigger\n"
        "LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = public, pg_temp\n"
        "AS $$\n"
        "BEGIN\n"
        "    NEW.nmae := lower(NEW.name);\n"
        "    RETURN NEW;\n"
        "END\n"
        "$$;\n"
        "CREATE TRIGGER widgets_touch BEFORE INSERT ON widgets\n"
        "    FOR EACH ROW EXECUTE FUNCTION widgets_touch();\n"
    )
    (project / "migrations" / "0003_trigger.rollback.sql").write_text(
        "DROP TRIGGER widgets_touch ON widgets;\nDROP FUNCTION widgets_touch();\n"
    )
    api.apply(blank_dsn, project)
    findings = [f for f in api.lint_deep(blank_dsn, project) if ": error:" in f.message]
    assert [(Path(f.path).name, f.line) for f in findings] == [("0003_trigger.sql", 6)]
    assert "nmae" in findings[0].message


def test_our_own_functions_and_migrations_pass_deep_lint(deployed_dsn: str) -> None:
    assert api.lint_deep(deployed_dsn) == []


# -- the local server -----------------------------------------------------------------


@pytest.fixture
def no_db_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in ("PYDEPLOY_DSN", "DATABASE_URL", "PYDEPLOY_HOME", *LIBPQ_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's server runs as another OS user")
def test_root_starts_the_local_server_from_a_directory_postgres_cannot_traverse(
    no_db_env: pytest.MonkeyPatch,
) -> None:
    private = Path(tempfile.mkdtemp(prefix="pydeploy-private-"))  # mode 0700, owned by root
    checkout = private / "checkout"
    checkout.mkdir()
    try:
        denied = subprocess.run(
            ["runuser", "-u", SERVER_OS_USER_WHEN_ROOT, "--", "test", "-x", str(checkout)],
            check=False,
        )
        assert denied.returncode != 0, "the test needs a directory postgres cannot traverse"
        no_db_env.chdir(checkout)

        out = run("server", "start", "--format", "json")
        assert out.exit_code == 0, out.output
        started = json.loads(out.stdout)
        assert started["started"] and started["relocated"]
        home = checkout / ".pgdata"
        assert home.is_symlink()
        assert not Path(started["data_dir"]).is_relative_to(private)

        # later commands find it without any variable, from the checkout
        url = run("server", "url")
        assert url.exit_code == 0 and url.stdout.strip() == started["url"]
        assert run("apply").exit_code == 0
        assert run("status").exit_code == 0
        with psycopg.connect(started["url"]) as conn:
            assert conn.execute("SELECT count(*) FROM tags").fetchone() == (0,)
    finally:
        server = LocalServer(checkout / ".pgdata")
        target = server.root
        server.destroy()
        shutil.rmtree(private, ignore_errors=True)
    assert not target.exists()


def test_a_taken_port_is_replaced_and_said(spare_server: LocalServer) -> None:
    spare_server.start()
    spare_server.stop()
    taken = spare_server.port
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", taken))
        squatter.listen(1)
        result = spare_server.start_with_details()
        assert result.started and result.moved_from_port == taken and result.port != taken
        with psycopg.connect(spare_server.url()) as conn:
            assert conn.execute("SHOW port").fetchone() == (str(result.port),)


def test_server_commands_json_and_a_stopped_server(
    spare_server: LocalServer, no_db_env: pytest.MonkeyPatch
) -> None:
    no_db_env.setenv("PYDEPLOY_HOME", str(spare_server.home))
    status = run("server", "status", "--format", "json")
    assert status.exit_code == 1
    assert json.loads(status.stdout) == {
        "running": False,
        "initialized": False,
        "home": str(spare_server.home),
        "data_dir": None,
        "relocated": False,
        "port": None,
        "url": None,
    }
    assert_one_line_error(run("server", "url"), 1, "not running")
    assert json.loads(run("server", "url", "--format", "json").stdout)["running"] is False

    assert run("server", "start").exit_code == 0
    st = json.loads(run("server", "status", "--format", "json").stdout)
    assert st["running"] and st["url"] == spare_server.url() and st["port"] == spare_server.port
    url = run("server", "url", "--format", "json")
    assert url.exit_code == 0 and json.loads(url.stdout)["url"] == spare_server.url()

    assert json.loads(run("server", "stop", "--format", "json").stdout) == {"stopped": True}
    assert_one_line_error(run("server", "url"), 1, "not running")
    assert_one_line_error(run("server", "destroy"), 2, "needs a confirmation")
    assert run("server", "destroy", "--yes").exit_code == 0
    assert not spare_server.home.exists()


def test_unexpected_errors_are_one_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something\nunexpected")

    monkeypatch.setattr(api, "server_status", broken)
    out = run("server", "status")
    assert_one_line_error(out, 3, "internal error", "RuntimeError: something unexpected")
