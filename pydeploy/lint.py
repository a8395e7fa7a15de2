"""Policy checks on SQL files before deploy (pglast), and plpgsql_check after deploy.

pglast parses plain SQL with PostgreSQL's own parser (``parse_sql``) and
PL/pgSQL bodies with PL/pgSQL's (``parse_plpgsql``), so a finding points at
what PostgreSQL would see. Every rule has a stable code; ``pydeploy lint
--explain CODE`` prints why it exists.

A finding is suppressed by a comment on its line that names its code and says
why: ``-- noqa: PD006 the admin report pages by OFFSET on purpose``. A ``noqa``
without a code or without a reason suppresses nothing and is itself a finding
(PD009). A baseline file lists known findings that CI tolerates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pglast
import psycopg
from pglast import ast
from pglast.parser import ParseError
from pglast.visitors import Visitor

from pydeploy.errors import PydeployError, UsageError
from pydeploy.sources import (
    body_first_line,
    function_body,
    line_of,
    read_function_files,
    statement_text,
)

RULES: dict[str, tuple[str, str]] = {
    "PD001": (
        "syntax-error",
        "The file (or a PL/pgSQL body in it) does not parse. PostgreSQL would reject it at deploy.",
    ),
    "PD002": (
        "missing-volatility",
        "Every function declares IMMUTABLE, STABLE or VOLATILE. The default, VOLATILE, forbids "
        "index use of its result and inlining; say it when you mean it.",
    ),
    "PD003": (
        "missing-search-path",
        "Every function pins its search_path (SET search_path = ...), so that objects a caller "
        "puts earlier on its own search_path cannot capture the names the function uses.",
    ),
    "PD004": (
        "security-definer-search-path",
        "A SECURITY DEFINER function runs with its owner's rights: its search_path must be set "
        'explicitly, end with pg_temp and not contain "$user", or a caller\'s temporary or own '
        "objects can hijack it.",
    ),
    "PD005": (
        "dynamic-sql-concatenation",
        "EXECUTE builds SQL only with format() (%I for identifiers, %L for literals) or passes "
        "values with USING. A query glued together with || is how SQL injection happens.",
    ),
    "PD006": (
        "offset-pagination",
        "OFFSET reads and throws away every skipped row: page 50 costs 50 pages. Gallery queries "
        "paginate with keyset cursors (created_at, id) instead.",
    ),
    "PD007": (
        "file-name-mismatch",
        "A file in pgsql/functions defines exactly one function, named like the file "
        "(gallery_page.sql defines gallery_page), so that deploys and reviews find it.",
    ),
    "PD008": (
        "missing-parallel-label",
        "Every function declares PARALLEL SAFE, RESTRICTED or UNSAFE. The default, UNSAFE, keeps "
        "every query calling it off parallel plans.",
    ),
    "PD009": (
        "unreasoned-noqa",
        "A `-- noqa` comment silences a finding only when it names the code(s) and says why: "
        "`-- noqa: PD006 the admin export pages by OFFSET on purpose`. A bare or unexplained "
        "noqa hides problems from the next reader; it suppresses nothing.",
    ),
    "PLPGSQL_CHECK": (
        "plpgsql-check",
        "Reported by plpgsql_check (lint --deep) on a deployed function: a column or type that "
        "does not exist, an unused variable, a cast that defeats an index, a missing RETURN.",
    ),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    code: str
    message: str

    @property
    def rule(self) -> str:
        return RULES[self.code][0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.rule}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "rule": self.rule}

    @property
    def key(self) -> str:
        """How a baseline names this finding: the file's last two path parts, the code
        and the message (no line number: lines move when a file is edited)."""
        short = "/".join(Path(self.path).parts[-2:])
        return f"{short}: {self.code}: {self.message}"


# -- selecting and suppressing findings -------------------------------------------

NOQA = re.compile(r"--\s*noqa\b(?P<rest>.*)$", re.IGNORECASE)
NOQA_CODES = re.compile(r"^\s*:\s*(?P<codes>[A-Z0-9_]+(?:\s*,\s*[A-Z0-9_]+)*)(?P<reason>.*)$")


@dataclass(frozen=True)
class Noqa:
    codes: frozenset[str]
    reason: str


def parse_noqa(line: str) -> Noqa | None:
    """The suppression on a line: codes and reason (empty codes: malformed)."""
    match = NOQA.search(line)
    if not match:
        return None
    codes = NOQA_CODES.match(match["rest"])
    if not codes:
        return Noqa(frozenset(), match["rest"].strip())
    names = frozenset(c.strip().upper() for c in codes["codes"].split(","))
    return Noqa(names, codes["reason"].strip(" -:#\t"))


@cache
def _file_lines(path: str) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8").splitlines())
    except OSError:
        return ()


def noqa_findings(path: Path, text: str) -> list[Finding]:
    """PD009 for every noqa that names no code, an unknown code, or gives no reason."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        noqa = parse_noqa(line)
        if noqa is None:
            continue
        unknown = sorted(noqa.codes - set(RULES))
        if not noqa.codes:
            problem = "name the code(s) it silences: -- noqa: PD006 <why>"
        elif unknown:
            problem = f"unknown code {', '.join(unknown)}"
        elif not noqa.reason:
            problem = f"say why {', '.join(sorted(noqa.codes))} does not apply here"
        else:
            continue
        found.append(Finding(str(path), lineno, "PD009", f"noqa suppresses nothing: {problem}"))
    return found


def suppressed(finding: Finding) -> bool:
    """True when the finding's line carries a reasoned noqa for its code."""
    if finding.code == "PD009":
        return False
    lines = _file_lines(finding.path)
    if not 1 <= finding.line <= len(lines):
        return False
    noqa = parse_noqa(lines[finding.line - 1])
    return bool(noqa and noqa.reason and finding.code in noqa.codes)


def check_codes(codes: Iterable[str], option: str) -> set[str]:
    wanted = {c.strip().upper() for c in codes if c.strip()}
    unknown = sorted(wanted - set(RULES))
    if unknown:
        raise UsageError(
            f"{option}: unknown rule {', '.join(unknown)}", f"rules: {', '.join(RULES)}"
        )
    return wanted


def select(
    findings: list[Finding],
    rules: Collection[str] | None = None,
    exclude_rules: Collection[str] = (),
) -> list[Finding]:
    """Findings of the selected rules that no reasoned noqa suppresses."""
    only = check_codes(rules, "--rules") if rules else None
    excluded = check_codes(exclude_rules, "--exclude-rules")
    return [
        f
        for f in findings
        if (only is None or f.code in only) and f.code not in excluded and not suppressed(f)
    ]


@dataclass
class Baseline:
    """Known findings CI tolerates: one ``Finding.key`` per line; ``#`` starts a comment."""

    keys: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot read the baseline {path}: {e.strerror}") from e
        keys = {line.strip() for line in text.splitlines()}
        return cls({k for k in keys if k and not k.startswith("#")})

    def split(self, findings: list[Finding]) -> tuple[list[Finding], list[Finding], list[str]]:
        """(new findings, known findings, baseline entries no longer found)."""
        new = [f for f in findings if f.key not in self.keys]
        known = [f for f in findings if f.key in self.keys]
        seen = {f.key for f in known}
        return new, known, sorted(self.keys - seen)

    @staticmethod
    def render(findings: list[Finding]) -> str:
        return "".join(f"{key}\n" for key in sorted({f.key for f in findings}))


def findings_json(findings: list[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings], indent=2)


def sql_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.sql")))
        else:
            files.append(path)
    return files


def lint_paths(paths: Iterable[Path]) -> list[Finding]:
    findings: list[Finding] = []
    for path in sql_files(paths):
        findings.extend(lint_file(path))
    return findings


def lint_file(path: Path) -> list[Finding]:
    text = path.read_text(encoding="utf-8")
    return list(_FileLinter(path, text).run()) + noqa_findings(path, text)


class _OffsetFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_SelectStmt(self, ancestors: object, node: ast.SelectStmt) -> None:
        if node.limitOffset is not None:
            self.found = True


class _ConcatFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_A_Expr(self, ancestors: object, node: ast.A_Expr) -> None:
        if node.name and node.name[-1].sval == "||":
            self.found = True


def _has_offset(sql_text: str) -> bool:
    finder = _OffsetFinder()
    finder(pglast.parse_sql(sql_text))
    return finder.found


def _has_concatenation(expression: str) -> bool:
    try:
        tree = pglast.parse_sql(f"SELECT {expression}")
    except ParseError:
        return "||" in expression
    finder = _ConcatFinder()
    finder(tree)
    return finder.found


def _walk_json(node: Any, lineno: int = 1) -> Iterator[tuple[dict[str, Any], int]]:
    """Every dict of a parse_plpgsql tree, with the line of the statement it is in."""
    if isinstance(node, dict):
        lineno = node.get("lineno", lineno)
        yield node, lineno
        for value in node.values():
            yield from _walk_json(value, lineno)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_json(value, lineno)


_DYNAMIC_STATEMENTS = {
    "PLpgSQL_stmt_dynexecute": "query",
    "PLpgSQL_stmt_dynfors": "query",
    "PLpgSQL_stmt_return_query": "dynquery",
    "PLpgSQL_stmt_open": "dynquery",
}
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.*)$", re.S)


class _FileLinter:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def finding(self, offset: int | None, code: str, message: str) -> Finding:
        return Finding(str(self.path), line_of(self.text, offset or 0), code, message)

    def run(self) -> Iterator[Finding]:
        try:
            statements = pglast.parse_sql(self.text)
        except ParseError as e:
            location = int(e.args[1]) if len(e.args) > 1 and e.args[1] is not None else 0
            yield Finding(str(self.path), self.text[:location].count("\n") + 1, "PD001", e.args[0])
            return
        functions = []
        for raw in statements:
            stmt = raw.stmt
            if isinstance(stmt, ast.CreateFunctionStmt):
                functions.append(stmt)
                yield from self.check_function(raw, stmt)
            elif _has_offset(self.statement_text(raw)):
                yield self.finding(raw.stmt_location, "PD006", "OFFSET in a query")
        if self.path.parent.name == "functions":
            yield from self.check_file_name(functions)

    def statement_text(self, raw: ast.RawStmt) -> str:
        return statement_text(self.text, raw)

    def check_file_name(self, functions: list[ast.CreateFunctionStmt]) -> Iterator[Finding]:
        names = [".".join(n.sval for n in f.funcname or ()) for f in functions]
        if len(names) != 1 or names[0].split(".")[-1] != self.path.stem:
            found = ", ".join(names) or "none"
            yield Finding(
                str(self.path),
                1,
                "PD007",
                f"expected one function named {self.path.stem}, found: {found}",
            )

    def check_function(self, raw: ast.RawStmt, stmt: ast.CreateFunctionStmt) -> Iterator[Finding]:
        name = stmt.funcname[-1].sval if stmt.funcname else "?"
        at = raw.stmt_location
        options = {o.defname: o.arg for o in stmt.options or ()}
        search_path = None
        for o in stmt.options or ():
            if o.defname == "set" and o.arg.name == "search_path":
                search_path = o.arg
        if not stmt.is_procedure and "volatility" not in options:
            yield self.finding(at, "PD002", f"{name}: declare IMMUTABLE, STABLE or VOLATILE")
        if not stmt.is_procedure and "parallel" not in options:
            yield self.finding(at, "PD008", f"{name}: declare PARALLEL SAFE, RESTRICTED or UNSAFE")
        if search_path is None:
            yield self.finding(at, "PD003", f"{name}: add SET search_path = ..., pg_temp")
        security_definer = "security" in options and bool(options["security"].boolval)
        if security_definer:
            problem = _definer_search_path_problem(search_path)
            if problem:
                yield self.finding(at, "PD004", f"{name}: SECURITY DEFINER {problem}")
        language = options["language"].sval.lower() if "language" in options else "sql"
        body = function_body(stmt)
        if body is None:
            return
        body_line = body_first_line(self.text, raw)
        if language == "plpgsql":
            yield from self.check_plpgsql(raw, name, body_line)
        elif language == "sql":
            try:
                offset = _has_offset(body)
            except ParseError as e:
                yield Finding(str(self.path), body_line, "PD001", f"{name}: {e.args[0]}")
                return
            if offset:
                yield Finding(str(self.path), body_line, "PD006", f"{name}: OFFSET in a query")

    def check_plpgsql(self, raw: ast.RawStmt, name: str, body_line: int) -> Iterator[Finding]:
        try:
            tree = pglast.parse_plpgsql(self.statement_text(raw))
        except ParseError as e:
            yield Finding(str(self.path), body_line, "PD001", f"{name}: {e.args[0]}")
            return
        datums = tree[0]["PLpgSQL_function"].get("datums", []) if tree else []
        variables = [next(iter(d.values())).get("refname") for d in datums]

        def line(lineno: int) -> int:
            return body_line + lineno - 1

        executed_variables: set[str] = set()
        assignments: list[tuple[str, str, int]] = []
        for node, outer_lineno in _walk_json(tree):
            for kind, stmt in node.items():
                if not isinstance(stmt, dict):
                    continue
                lineno = stmt.get("lineno", outer_lineno)
                if kind in _DYNAMIC_STATEMENTS:
                    expr = stmt.get(_DYNAMIC_STATEMENTS[kind])
                    if not expr:
                        continue
                    query = expr["PLpgSQL_expr"]["query"]
                    if query.strip() in variables:
                        executed_variables.add(query.strip())
                    elif _has_concatenation(query):
                        yield Finding(
                            str(self.path),
                            line(lineno),
                            "PD005",
                            f"{name}: EXECUTE of a string built with ||; use format() or USING",
                        )
                elif kind == "PLpgSQL_stmt_assign":
                    match = _ASSIGNMENT.match(stmt["expr"]["PLpgSQL_expr"]["query"])
                    if match:
                        assignments.append((match[1], match[2], lineno))
                elif kind == "PLpgSQL_expr" and stmt.get("parseMode", 0) == 0:
                    try:
                        offset = _has_offset(stmt["query"])
                    except ParseError:
                        continue
                    if offset:
                        yield Finding(
                            str(self.path), line(lineno), "PD006", f"{name}: OFFSET in a query"
                        )
        for variable, expression, lineno in assignments:
            if variable in executed_variables and _has_concatenation(expression):
                yield Finding(
                    str(self.path),
                    line(lineno),
                    "PD005",
                    f"{name}: {variable} is built with || and then EXECUTEd; use format() or USING",
                )


def _definer_search_path_problem(search_path: ast.VariableSetStmt | None) -> str | None:
    if search_path is None or not search_path.args:
        return "without SET search_path"
    items = [
        getattr(a.val, "sval", "") if isinstance(a, ast.A_Const) else "" for a in search_path.args
    ]
    if "$user" in items:
        return 'has "$user" in its search_path'
    if items[-1] != "pg_temp":
        return "search_path must end with pg_temp"
    return None


# -- plpgsql_check on the deployed functions ------------------------------------

PLPGSQL_CHECK_QUERY = """
SELECT c.lineno, c.level, c.sqlstate, c.message, c.hint
  FROM plpgsql_check_function_tb(%(fn)s::regprocedure,
                                 coalesce(%(rel)s::regclass, 0::regclass),
                                 fatal_errors => false, other_warnings => true,
                                 extra_warnings => true, security_warnings => true) AS c
"""


_CREATE_FUNCTION = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(?:\w+\.)?\"?(\w+)\"?\s*\(", re.IGNORECASE
)
_DOLLAR_QUOTE = re.compile(r"\$(\w*)\$")


def migration_functions(sql_dir: Path) -> dict[str, tuple[str, int]]:
    """Functions the migrations create: name -> (file, file line of the body's first line).

    Found by text, since some are created inside DO blocks that no parser of plain
    SQL looks into; a later migration that recreates one wins."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted((sql_dir / "migrations").glob("*.sql")):
        if path.name.endswith(".rollback.sql"):
            continue
        text = path.read_text(encoding="utf-8")
        for match in _CREATE_FUNCTION.finditer(text):
            if text[: match.start()].rstrip().endswith("pg_temp."):
                continue
            body = _DOLLAR_QUOTE.search(text, match.end())
            start = body.end() if body else match.start()
            found[match[1]] = (str(path), line_of(text, start))
    return found


DEEP_TARGETS_SQL = """
SELECT p.oid::regprocedure::text, p.proname::text, t.tgrelid::regclass::text,
       t.tgoldtable::text, t.tgnewtable::text
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
  LEFT JOIN pg_trigger t ON t.tgfoid = p.oid AND NOT t.tgisinternal
 WHERE (p.oid IN (SELECT to_regprocedure(signature) FROM pydeploy.function_registry)
        OR (p.proname = ANY(%(migration_functions)s)
            AND p.pronamespace <> pg_my_temp_schema()
            AND p.pronamespace NOT IN ('pg_catalog'::regnamespace,
                                       'information_schema'::regnamespace)))
   AND (p.prorettype <> 'trigger'::regtype OR t.tgrelid IS NOT NULL)
 ORDER BY 2, 3, 1
"""

PLPGSQL_CHECK_TRIGGER_QUERY = """
SELECT c.lineno, c.level, c.sqlstate, c.message, c.hint
  FROM plpgsql_check_function_tb(%(fn)s::regprocedure, %(rel)s::regclass,
                                 fatal_errors => false, other_warnings => true,
                                 extra_warnings => true, security_warnings => true,
                                 oldtable => %(old)s, newtable => %(new)s) AS c
"""


def deep_check(conn: psycopg.Connection, sql_dir: Path) -> list[Finding]:
    """Run plpgsql_check on every PL/pgSQL function pydeploy deployed, and on those the
    migrations create.

    The extension is created inside a transaction that is rolled back, so a
    database that did not have it is left without it. Trigger functions are
    checked against each table whose trigger uses them, with its transition tables.
    """
    files = {f.stem: f for f in read_function_files(sql_dir)}
    from_migrations = migration_functions(sql_dir)
    findings: list[Finding] = []
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        available = cur.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'plpgsql_check'"
        ).fetchone()
        if not available:
            raise PydeployError(
                "plpgsql_check is not installed on the database server",
                "install it (Debian: apt-get install postgresql-15-plpgsql-check) "
                "or lint without --deep",
            )
        cur.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
        registry = cur.execute("SELECT to_regclass('pydeploy.function_registry')").fetchone()
        if not registry or registry[0] is None:
            raise PydeployError(
                "lint --deep checks deployed functions, and nothing is deployed here",
                "run `pydeploy apply` first (or check --dsn)",
            )
        targets = cur.execute(
            DEEP_TARGETS_SQL, {"migration_functions": list(from_migrations)}
        ).fetchall()
        seen: set[tuple[str, str, int, str]] = set()
        for signature, name, relation, old_table, new_table in targets:
            f = files.get(name)
            if f is not None:
                path, first_line = str(f.path), f.body_first_line
            elif name in from_migrations:
                path, first_line = from_migrations[name]
            else:
                path, first_line = f"{name}.sql", 1
            query = PLPGSQL_CHECK_TRIGGER_QUERY if relation else PLPGSQL_CHECK_QUERY
            params = {"fn": signature, "rel": relation, "old": old_table, "new": new_table}
            for lineno, level, sqlstate, message, hint in cur.execute(query, params):
                text = f"{signature}: {level}: {message}" + (f" (HINT: {hint})" if hint else "")
                if sqlstate and sqlstate != "00000":
                    text += f" [{sqlstate}]"
                line = first_line + (lineno or 1) - 1
                if (path, text, line, relation or "") in seen:
                    continue
                seen.add((path, text, line, relation or ""))
                findings.append(Finding(path, line, "PLPGSQL_CHECK", text))
    return findings
