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
from hypothesis import settings
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from bench.reference import create_reference_database
from pydeploy import api
from pydeploy.server import SUPERUSER, LocalServer

REPO = Path(__file__).resolve().parent.parent
# tests/mutations points the suite at a copy of the SQL with a planted bug
SQL_DIR = Path(os.environ.get("GALLERY_SQL_DIR") or REPO / "pgsql")
REFERENCE_SCALE = 0.002

# In CI, hypothesis draws the same examples every run, so that a failure reproduces.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(
    "ci" if os.environ.get("CI") else "default"
)  # 130 items + 2,220 auto items, ~180,000 tag links


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
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            # the tests call the package's functions unqualified, as an application
            # whose role has their schema on its search_path does (docs/security.md)
            conn.execute(f"ALTER ROLE {SUPERUSER} SET search_path = gallery, public")
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


# A small gallery where every case the tests try has a non-trivial answer (checked by
# test_gallery.test_the_data_has_what_the_tests_need): 800 items in both partitions, five
# creators, private items; created_at shuffled against id, with microseconds, ties (equal
# and 1 us apart); 24 tags:
#   tag1..tag5 dense (~70% of items), tag6..tag10 (~25%), tag11..tag20 sparse (~6%),
#   tag21..tag23 rare (~2%), tag24 on no item;
# 8% of items carry no tag (so 'any' never returns everything in scope) and 8% carry
# nearly all of tag1..tag20 (so 'all' over up to 20 of them is never empty).
GALLERY_DATA_SQL = """
INSERT INTO users (id, username) SELECT g, 'user' || g FROM generate_series(1, 5) g;
INSERT INTO tags (id, name)
SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, 'tag' || g
  FROM generate_series(1, 24) g;
INSERT INTO content_items_all (id, title, creator_id, source_type, is_private, created_at)
SELECT g, 'item ' || g, 1 + (g * 7) % 5, CASE WHEN g % 3 = 0 THEN 'items' ELSE 'auto' END,
       g % 7 = 0,
       timestamptz '2025-01-01 00:00:00.123456'
           + (slot / 2) * interval '1 minute' + (slot % 2) * interval '1 microsecond'
  FROM generate_series(1, 800) g,
       LATERAL (SELECT (hashint4(g) & 2147483647) % 400 AS slot) AS s;
SELECT setval('content_items_all_id_seq', 1000);
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT i.id, i.source_type, t.id
  FROM content_items_all i
 CROSS JOIN LATERAL (SELECT (hashint4(i.id::int + 100000) & 2147483647) % 100 AS kind) AS k
 CROSS JOIN tags t
 CROSS JOIN LATERAL (SELECT substr(t.name, 4)::int AS n,
                            (hashint8(i.id * 100 + substr(t.name, 4)::int) & 1023) / 1024.0 AS r
                    ) AS d
 WHERE k.kind >= 8
   AND CASE WHEN k.kind < 16 THEN d.n <= 20 AND d.r >= 0.04
            ELSE d.r < CASE WHEN d.n <= 5 THEN 0.7 WHEN d.n <= 10 THEN 0.25
                            WHEN d.n <= 20 THEN 0.06 WHEN d.n <= 23 THEN 0.02 ELSE 0 END
       END;
SELECT gallery_stats_refresh();
ANALYZE;
"""


@pytest.fixture(scope="session")
def gallery_db_template(cluster: LocalServer) -> Iterator[NoopExecutor]:
    """The package deployed, with GALLERY_DATA_SQL."""

    def load(dsn: str) -> None:
        api.apply(dsn, SQL_DIR)
        with psycopg.connect(dsn) as conn:
            conn.execute(GALLERY_DATA_SQL)

    yield from _template(cluster, "gallery_data", load)


@pytest.fixture(scope="session")
def gallery_readonly(cluster: LocalServer, gallery_db_template: NoopExecutor) -> Iterator[str]:
    """One clone of the gallery data shared by tests that only read it."""
    name = "gallery_readonly"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{gallery_db_template.template_dbname}"')
    try:
        yield cluster.url(name)
    finally:
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


blank_db = factories.postgresql("blank_db_template")
gallery_db = factories.postgresql("gallery_db_template")
reference_db = factories.postgresql("reference_db_template")
deployed_db = factories.postgresql("deployed_db_template")


@pytest.fixture
def blank_dsn(blank_db: psycopg.Connection) -> str:
    """A fresh empty database."""
    return blank_db.info.dsn


@pytest.fixture
def reference_dsn(reference_db: psycopg.Connection) -> str:
    """A fresh database in the reference application's layout, with data."""
    return reference_db.info.dsn


@pytest.fixture
def gallery_dsn(gallery_db: psycopg.Connection) -> str:
    """A fresh clone of the gallery data that the test may change."""
    return gallery_db.info.dsn


@pytest.fixture
def deployed_dsn(deployed_db: psycopg.Connection) -> str:
    """A fresh database with the package applied."""
    return deployed_db.info.dsn
