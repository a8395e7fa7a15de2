"""The local server and how commands find their database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pydeploy.cli import main
from pydeploy.db import LIBPQ_VARIABLES, resolve_dsn
from pydeploy.errors import ConnectionFailed
from pydeploy.server import LocalServer


def test_session_cluster_has_pg_cron_preloaded_and_plpgsql_check_available(
    cluster: LocalServer,
) -> None:
    with psycopg.connect(cluster.url()) as conn:
        assert "pg_cron" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        assert conn.execute("SHOW cron.database_name").fetchone()[0] == "gallery"
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql_check'"
            ).fetchone()[0]
            == 1
        )


@pytest.fixture
def monkeypatch_no_db(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No database named anywhere in the environment."""
    for variable in ("PYDEPLOY_DSN", "DATABASE_URL", *LIBPQ_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_start_is_idempotent_and_commands_fall_back_to_it(
    cluster: LocalServer, monkeypatch_no_db: pytest.MonkeyPatch
) -> None:
    monkeypatch = monkeypatch_no_db
    monkeypatch.setenv("PYDEPLOY_HOME", str(cluster.home))
    runner = CliRunner()

    out = runner.invoke(main, ["server", "start"])
    assert out.exit_code == 0 and "already running" in out.output
    assert runner.invoke(main, ["server", "url"]).output.strip() == cluster.url()
    assert runner.invoke(main, ["server", "status"]).exit_code == 0
    assert resolve_dsn() == cluster.url()

    monkeypatch.setenv("PGDATABASE", "elsewhere")
    assert resolve_dsn() == ""  # libpq reads the PG* variables
    monkeypatch.setenv("PYDEPLOY_DSN", "postgresql:///from-env")
    assert resolve_dsn() == "postgresql:///from-env"
    assert resolve_dsn("postgresql:///explicit") == "postgresql:///explicit"


def test_no_database_anywhere_is_a_clear_error(
    tmp_path: Path, monkeypatch_no_db: pytest.MonkeyPatch
) -> None:
    monkeypatch = monkeypatch_no_db
    monkeypatch.setenv("PYDEPLOY_HOME", str(tmp_path / "none"))

    with pytest.raises(ConnectionFailed, match="no local server running"):
        resolve_dsn()
    out = CliRunner().invoke(main, ["status"])
    assert out.exit_code == 2
    assert "pydeploy server start" in out.output
    status = CliRunner().invoke(main, ["server", "status"])
    assert status.exit_code == 1 and "not running" in status.output


def test_stop_and_start_again(spare_server: LocalServer) -> None:
    assert not spare_server.is_running()
    assert spare_server.start() is True
    assert spare_server.stop() is True
    assert spare_server.stop() is False
    assert spare_server.start() is True
    with psycopg.connect(spare_server.url()) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "gallery"
    spare_server.destroy()
    assert not spare_server.home.exists()
