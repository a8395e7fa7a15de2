"""Which database a command talks to, and connecting to it.

Resolution order: an explicit ``--dsn``; then ``PYDEPLOY_DSN`` or
``DATABASE_URL``; then the libpq environment (``PGHOST``, ``PGDATABASE``,
``PGSERVICE``, ...); then the local server of ``pydeploy server start``.

Every connection attempt gives up after a few seconds (``connect_timeout``,
default :data:`DEFAULT_CONNECT_TIMEOUT`; ``PYDEPLOY_CONNECT_TIMEOUT``,
``PGCONNECT_TIMEOUT`` or the DSN's own ``connect_timeout`` change it), so a
monitoring check against a server that never answers fails fast.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pydeploy.errors import ConnectionFailed, UsageError, one_line
from pydeploy.server import LocalServer, default_home

LIBPQ_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
DEFAULT_CONNECT_TIMEOUT = 5
CONNECT_HINT = "check --dsn / PYDEPLOY_DSN, or start the local server with `pydeploy server start`"


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


def parse_dsn(conninfo: str) -> dict[str, Any]:
    """The DSN's parameters; a malformed DSN is a usage error (exit 2), said in one line."""
    if conninfo.split("://", 1)[0] not in ("postgresql", "postgres") and "://" in conninfo:
        scheme = conninfo.split("://", 1)[0]
        raise UsageError(
            f"not a PostgreSQL connection string: the scheme is {scheme}://",
            "use postgresql://user@host:port/database or key=value pairs (host=... dbname=...)",
        )
    try:
        return conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as e:
        raise UsageError(
            f"invalid connection string: {one_line(str(e))}",
            "use postgresql://user@host:port/database or key=value pairs (host=... dbname=...)",
        ) from e


def connect_timeout() -> int:
    """Seconds a connection attempt may take: PYDEPLOY_CONNECT_TIMEOUT, PGCONNECT_TIMEOUT, 5."""
    for variable in ("PYDEPLOY_CONNECT_TIMEOUT", "PGCONNECT_TIMEOUT"):
        value = os.environ.get(variable)
        if value:
            try:
                seconds = int(value)
            except ValueError:
                raise UsageError(
                    f"{variable} must be a whole number of seconds, got {value!r}"
                ) from None
            if seconds < 1:
                raise UsageError(f"{variable} must be at least 1 second, got {seconds}")
            return seconds
    return DEFAULT_CONNECT_TIMEOUT


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    conninfo = resolve_dsn(dsn)
    params = parse_dsn(conninfo)
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = connect_timeout()
    try:
        return psycopg.connect(
            conninfo, autocommit=autocommit, application_name="pydeploy", **extra
        )
    except psycopg.OperationalError as e:
        message = one_line(str(e)) or "no answer"
        if "timeout expired" in message:
            seconds = params.get("connect_timeout", extra.get("connect_timeout"))
            message = f"no answer within {seconds}s ({message})"
        raise ConnectionFailed(f"cannot connect to the database: {message}", CONNECT_HINT) from e
