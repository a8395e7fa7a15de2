"""The SQL this package deploys: migrations and repeatable function files.

The files live in the top-level ``pgsql/`` directory of a checkout and ship
inside the wheel as ``pydeploy/pgsql``; both layouts are found without any
configuration, and ``--sql-dir`` points at any other tree of the same shape.
"""

from __future__ import annotations

import graphlib
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pglast
from pglast import ast

from pydeploy.errors import DeployError, PydeployError, UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATION_NAME = re.compile(r"^\d+_[A-Za-z0-9_]+\.sql$")


def default_sql_dir() -> Path:
    """The packaged SQL tree, or the checkout's ``pgsql/`` for a source install."""
    for candidate in (PACKAGE_DIR / "pgsql", PACKAGE_DIR.parent / "pgsql"):
        if (candidate / "migrations").is_dir():
            return candidate
    raise PydeployError(
        "cannot find the SQL files (pgsql/migrations) of the package",
        "reinstall the package, or pass --sql-dir",
    )


def check_sql_dir(sql_dir: Path) -> None:
    """Refuse a directory that is not an SQL tree: a wrong --sql-dir would otherwise
    look like a release that removed every function."""
    missing = [d for d in ("functions", "migrations") if not (sql_dir / d).is_dir()]
    if missing:
        raise UsageError(
            f"{sql_dir} is not an SQL tree: it has no {' and no '.join(m + '/' for m in missing)}",
            "--sql-dir takes a directory with functions/ and migrations/ (like pgsql/)",
        )
    if not any(MIGRATION_NAME.match(p.name) for p in (sql_dir / "migrations").iterdir()):
        raise UsageError(
            f"{sql_dir / 'migrations'} holds no migration (NNNN_name.sql)",
            "--sql-dir takes a directory with functions/ and migrations/ (like pgsql/)",
        )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def line_of(text: str, offset: int) -> int:
    """1-based line of a character offset (pglast reports locations in characters)."""
    return text[:offset].count("\n") + 1


def statement_text(text: str, raw: ast.RawStmt) -> str:
    start = raw.stmt_location or 0
    end = start + raw.stmt_len if raw.stmt_len else len(text)
    return text[start:end]


def function_body(stmt: ast.CreateFunctionStmt) -> str | None:
    for option in stmt.options or ():
        if option.defname == "as":
            return str(option.arg[0].sval)
    return None


def body_first_line(text: str, raw: ast.RawStmt) -> int:
    """File line on which a CREATE FUNCTION's body starts: PL/pgSQL line 1."""
    stmt_text = statement_text(text, raw)
    stmt = raw.stmt
    body = (function_body(stmt) if isinstance(stmt, ast.CreateFunctionStmt) else None) or ""
    start = max(stmt_text.find(body), 0)
    return line_of(text, raw.stmt_location or 0) + stmt_text[:start].count("\n")


@dataclass(frozen=True)
class FunctionFile:
    """One file of ``pgsql/functions/``: exactly one CREATE FUNCTION (or PROCEDURE)."""

    path: Path
    text: str

    @property
    def stem(self) -> str:
        return self.path.stem

    @cached_property
    def sha256(self) -> str:
        return sha256_text(self.text)

    @cached_property
    def statements(self) -> tuple[ast.RawStmt, ...]:
        return tuple(pglast.parse_sql(self.text))

    @property
    def create_raw(self) -> ast.RawStmt:
        creates = [s for s in self.statements if isinstance(s.stmt, ast.CreateFunctionStmt)]
        if len(creates) != 1:
            raise ValueError(f"{self.path}: expected one CREATE FUNCTION, found {len(creates)}")
        return creates[0]

    @property
    def create(self) -> ast.CreateFunctionStmt:
        stmt = self.create_raw.stmt
        assert isinstance(stmt, ast.CreateFunctionStmt)
        return stmt

    @property
    def body_first_line(self) -> int:
        return body_first_line(self.text, self.create_raw)

    @property
    def name(self) -> str:
        return str(self.create.funcname[-1].sval) if self.create.funcname else ""

    @property
    def language(self) -> str:
        for option in self.create.options or ():
            if option.defname == "language":
                return str(option.arg.sval).lower()
        return "sql"

    @property
    def kind(self) -> str:
        return "PROCEDURE" if self.create.is_procedure else "FUNCTION"

    @property
    def argument_types(self) -> list[str]:
        """The input arguments' types as written in the file."""
        return [
            _type_name(p.argType)
            for p in self.create.parameters or ()
            if p.mode.name not in ("FUNC_PARAM_OUT", "FUNC_PARAM_TABLE")
        ]

    @property
    def qualified_name(self) -> str:
        """The name as the file writes it: ``schema.name``, or ``name`` alone."""
        return ".".join(str(n.sval) for n in self.create.funcname or ())

    @property
    def signature(self) -> str:
        """``name(type, ...)`` of the input arguments, as ``to_regprocedure`` reads it."""
        return f"{self.qualified_name}({', '.join(self.argument_types)})"


def _type_name(type_name: ast.TypeName) -> str:
    names = [n.sval for n in type_name.names or ()]
    if names[0] == "pg_catalog":
        names = names[1:]
    text = ".".join(names)
    if type_name.setof:
        text = "setof " + text
    return text + "[]" * len(type_name.arrayBounds or ())


def read_function_files(sql_dir: Path) -> list[FunctionFile]:
    """Function files in deployment order.

    PostgreSQL checks the body of a LANGUAGE sql function when it is created
    (PL/pgSQL bodies only when they run), so such a file comes after every file
    whose function its text names; otherwise the order is by file name.
    """
    files = {
        p.stem: FunctionFile(p, p.read_text(encoding="utf-8"))
        for p in sorted((sql_dir / "functions").glob("*.sql"))
    }
    graph: dict[str, set[str]] = {stem: set() for stem in files}
    for stem, f in files.items():
        try:
            language = f.language
        except (pglast.parser.ParseError, ValueError) as e:
            raise DeployError(f"{f.path}: {e}", "run `pydeploy lint` for details") from e
        if language == "sql":
            words = set(re.findall(r"[a-z_][a-z0-9_]*", f.text.lower()))
            graph[stem] = {other for other in files if other != stem and other in words}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        raise DeployError(
            f"SQL functions that name each other: {' -> '.join(e.args[1])}",
            "a LANGUAGE sql function is checked when created: break the cycle with plpgsql",
        ) from e
    return [files[stem] for stem in order]


def migrations_dir(sql_dir: Path) -> Path:
    return sql_dir / "migrations"


def migration_checksum(migration_path: Path) -> str:
    """Checksum of a migration and its rollback, to spot edits after it was applied."""
    rollback = migration_path.with_suffix(".rollback.sql")
    text = migration_path.read_text(encoding="utf-8")
    if rollback.exists():
        text += "\n-- rollback --\n" + rollback.read_text(encoding="utf-8")
    return sha256_text(text)
