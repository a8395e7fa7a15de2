"""Errors pydeploy reports to its user: one line, and, where one helps, a hint.

Exit codes (the CLI's, documented in docs/pydeploy.md):

* 0 ok;
* 1 findings, drift, pending work, a refused or failed change (nothing was changed);
* 2 usage error, or no database to talk to (bad DSN, unreachable, lost connection);
* 3 an internal error: a bug in pydeploy (``PYDEPLOY_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import psycopg
import psycopg.errors

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class PydeployError(Exception):
    """A failure the user can act on; the CLI prints it and exits with ``exit_code``."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHINT: {self.hint}"


class UsageError(PydeployError):
    """A wrong argument or option value."""


class ServerError(PydeployError):
    """The local server cannot be created, started or reached."""


class ConnectionFailed(PydeployError):
    """No database to talk to, or the database refused or lost the connection."""


class DeployError(PydeployError):
    """A migration or a function file failed; nothing was changed."""

    exit_code = EXIT_FINDINGS


class Refused(PydeployError):
    """A change pydeploy will not make without a confirmation; nothing was changed."""


class Cancelled(PydeployError):
    """The user answered no; nothing was changed."""

    exit_code = EXIT_FINDINGS


class DatabaseError(PydeployError):
    """The database refused an operation (privileges, read-only, a failed statement)."""

    exit_code = EXIT_FINDINGS


def one_line(text: str) -> str:
    return " ".join(text.split())


def connection_lost(e: BaseException) -> bool:
    """True when ``e`` means the server went away (backend killed, shutdown, network)."""
    if isinstance(
        e,
        psycopg.errors.AdminShutdown
        | psycopg.errors.CrashShutdown
        | psycopg.errors.CannotConnectNow
        | psycopg.errors.IdleSessionTimeout,
    ):
        return True
    # libpq: "server closed the connection unexpectedly", "the connection is lost"
    return isinstance(e, psycopg.OperationalError) and not getattr(e, "sqlstate", None)


def from_psycopg(e: psycopg.Error, doing: str) -> PydeployError:
    """The one-line error a user sees for a database error raised while ``doing``."""
    diag = e.diag
    text = one_line(diag.message_primary or str(e) or type(e).__name__)
    if connection_lost(e):
        return ConnectionFailed(
            f"{doing}: the connection to the server was lost: {text}",
            "the server stopped or the session was terminated; if a change was under way it "
            "was rolled back as a whole: run the command again",
        )
    if isinstance(e, psycopg.errors.InsufficientPrivilege):
        return DatabaseError(
            f"{doing}: permission denied: {text}",
            "connect as a role with the privileges this command needs (see docs/pydeploy.md, "
            "'Privileges')",
        )
    if isinstance(e, psycopg.errors.ReadOnlySqlTransaction):
        return DatabaseError(
            f"{doing}: the database is read-only here: {text}",
            "connect to the primary, not a standby, and without default_transaction_read_only",
        )
    if isinstance(e, psycopg.errors.QueryCanceled):
        return DatabaseError(
            f"{doing}: canceled: {text}", "a statement_timeout or a cancel request stopped it"
        )
    code = f" [{diag.sqlstate}]" if diag.sqlstate else ""
    hint = one_line(diag.message_hint) if diag.message_hint else None
    return DatabaseError(f"{doing}: {text}{code}", hint)
