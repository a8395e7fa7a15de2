"""Test fixtures: one throwaway PostgreSQL cluster per test session, root-safe.

The cluster is a :class:`pydeploy.server.LocalServer` in a temporary
directory (as root, the server runs as the ``postgres`` OS user). Databases
come from pytest-postgresql: a template is filled once per session and every
test gets a fresh clone of it (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from bench.reference import create_reference_database
from pydeploy import api
from pydeploy.server import SUPERUSER, LocalServer

REPO = Path(__file__).resolve().parent.parent
SQL_DIR = REPO / "pgsql"
REFERENCE_SCALE = 0.002  # 130 items + 2,220 auto items, ~180,000 tag links


@contextmanager
def server_home() -> Iterator[Path]:
    """A directory for a cluster that the postgres OS user can reach when we are root
    (pytest's own tmp_path lives under a 0700 directory)."""
    home = Path(tempfile.mkdtemp(prefix="pydeploy-tests-"))
    os.chmod(home, 0o755)
    try:
        yield home / "cluster"
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalServer]:
    with server_home() as home:
        server = LocalServer(home)
        server.start()
        try:
            yield server
        finally:
            server.destroy()


@pytest.fixture
def spare_server() -> Iterator[LocalServer]:
    """A second, not yet created cluster of the test's own."""
    with server_home() as home:
        server = LocalServer(home)
        try:
            yield server
        finally:
            server.destroy()


def _template(
    cluster: LocalServer, name: str, load: Callable[[str], None] | None
) -> Iterator[NoopExecutor]:
    executor = NoopExecutor(
        host="127.0.0.1", port=cluster.port, user=SUPERUSER, options="", dbname=name
    )
    janitor = DatabaseJanitor(
        user=SUPERUSER,
        host="127.0.0.1",
        port=cluster.port,
        dbname=executor.template_dbname,
        as_template=True,
    )
    with janitor:
        if load is not None:
            load(cluster.url(executor.template_dbname))
        yield executor


@pytest.fixture(scope="session")
def blank_db_template(cluster: LocalServer) -> Iterator[NoopExecutor]:
    """An empty database to clone."""
    yield from _template(cluster, "blank", None)


@pytest.fixture(scope="session")
def deployed_db_template(cluster: LocalServer) -> Iterator[NoopExecutor]:
    """A database with the package applied by the real ``pydeploy apply``."""
    yield from _template(cluster, "deployed", lambda dsn: api.apply(dsn, SQL_DIR))


@pytest.fixture(scope="session")
def reference_db_template(cluster: LocalServer) -> Iterator[NoopExecutor]:
    """A database in the reference application's layout (plain tables, tag arrays)."""

    def load(dsn: str) -> None:
        with psycopg.connect(dsn) as conn:
            create_reference_database(conn, scale=REFERENCE_SCALE)

    yield from _template(cluster, "reference", load)


blank_db = factories.postgresql("blank_db_template")
reference_db = factories.postgresql("reference_db_template")
deployed_db = factories.postgresql("deployed_db_template")


def dsn_of(conn: psycopg.Connection) -> str:
    return conn.info.dsn


@pytest.fixture
def blank_dsn(blank_db: psycopg.Connection) -> str:
    blank_db.commit()
    return dsn_of(blank_db)


@pytest.fixture
def reference_dsn(reference_db: psycopg.Connection) -> str:
    reference_db.commit()
    return dsn_of(reference_db)


@pytest.fixture
def deployed_dsn(deployed_db: psycopg.Connection) -> str:
    deployed_db.commit()
    return dsn_of(deployed_db)
