"""Which database a command talks to, and connecting to it.

Resolution order: an explicit ``--dsn``; then ``PYDEPLOY_DSN`` or
``DATABASE_URL``; then the libpq environment (``PGHOST``, ``PGDATABASE``,
``PGSERVICE``, ...); then the local server of ``pydeploy server start``.
"""

from __future__ import annotations

import os

import psycopg

from pydeploy.errors import ConnectionFailed
from pydeploy.server import LocalServer, default_home

LIBPQ_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")


def resolve_dsn(dsn: str | None = None) -> str:
    if dsn:
        return dsn
    for variable in ("PYDEPLOY_DSN", "DATABASE_URL"):
        if os.environ.get(variable):
            return os.environ[variable]
    if any(os.environ.get(v) for v in LIBPQ_VARIABLES):
        return ""  # libpq reads the PG* variables itself
    server = LocalServer(default_home())
    if server.is_running():
        return server.url()
    raise ConnectionFailed(
        "no database given and no local server running",
        "pass --dsn postgresql://..., set PYDEPLOY_DSN, or run `pydeploy server start`",
    )


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    conninfo = resolve_dsn(dsn)
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, application_name="pydeploy")
    except psycopg.OperationalError as e:
        raise ConnectionFailed(
            f"cannot connect to the database: {str(e).strip()}",
            "check --dsn / PYDEPLOY_DSN, or start the local server with `pydeploy server start`",
        ) from e
