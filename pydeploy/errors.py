"""Errors pydeploy reports to its user: a message and, where one helps, a hint."""

from __future__ import annotations


class PydeployError(Exception):
    """A failure the user can act on; the CLI prints it and exits with ``exit_code``."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHINT: {self.hint}"


class ServerError(PydeployError):
    """The local server cannot be created, started or reached."""


class ConnectionFailed(PydeployError):
    """No database to talk to, or the database refused the connection."""


class DeployError(PydeployError):
    """A migration or a function file failed; nothing was changed."""

    exit_code = 1
