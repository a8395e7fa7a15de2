"""The catalogue of gallery_page's strategies, read from its SQL file.

``gallery._gallery_strategies()`` (``pgsql/functions/_gallery_strategies.sql``) is the one
list of strategies: which exist, which matches each serves, which need tags. The database
reads it where it checks arguments and plans; the tests (at collection time, before any
server runs) and the bench read the same rows here, from the file: its body is a ``VALUES``
list of constants, parsed with pglast, never executed. A test checks that these rows are
the deployed function's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pglast
from pglast import ast

from pydeploy.sources import FunctionFile, default_sql_dir, function_body

CATALOGUE_FILE = "_gallery_strategies.sql"
COLUMNS = ("strategy", "matches", "needs_tags", "summary")


@dataclass(frozen=True)
class Strategy:
    """One row of ``_gallery_strategies()``."""

    strategy: str
    matches: tuple[str, ...]
    needs_tags: bool
    summary: str

    def serves(self, match: str, *, tags: bool = True) -> bool:
        """Whether gallery_page accepts this strategy for the match, with or without tags."""
        return match in self.matches and (tags or not self.needs_tags)


def _constant(node: ast.Node) -> object:
    if isinstance(node, ast.A_ArrayExpr):
        return tuple(_constant(e) for e in node.elements or ())
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        if isinstance(value, ast.String):
            return str(value.sval)
        if isinstance(value, ast.Boolean):
            return bool(value.boolval)
    raise ValueError(f"{CATALOGUE_FILE}: only constants belong in the catalogue, got {node}")


def read_strategies(sql_dir: Path | None = None) -> tuple[Strategy, ...]:
    """The catalogue's rows, in its order, from ``<sql_dir>/functions/_gallery_strategies.sql``."""
    path = (sql_dir or default_sql_dir()) / "functions" / CATALOGUE_FILE
    body = function_body(FunctionFile(path, path.read_text()).create) or ""
    (raw,) = pglast.parse_sql(body)
    select = raw.stmt
    if not (
        isinstance(select, ast.SelectStmt)
        and select.fromClause
        and len(select.fromClause) == 1
        and isinstance(select.fromClause[0], ast.RangeSubselect)
    ):
        raise ValueError(f"{path}: expected SELECT * FROM (VALUES ...) AS c({', '.join(COLUMNS)})")
    values = select.fromClause[0].subquery
    alias = select.fromClause[0].alias
    names = tuple(str(c.sval) for c in (alias.colnames or ())) if alias else ()
    if names != COLUMNS or not isinstance(values, ast.SelectStmt) or not values.valuesLists:
        raise ValueError(f"{path}: expected SELECT * FROM (VALUES ...) AS c({', '.join(COLUMNS)})")
    rows = []
    for row in values.valuesLists:
        strategy, matches, needs_tags, summary = (_constant(v) for v in row)
        assert isinstance(strategy, str) and isinstance(matches, tuple)
        assert isinstance(needs_tags, bool) and isinstance(summary, str)
        rows.append(Strategy(strategy, tuple(str(m) for m in matches), needs_tags, summary))
    return tuple(rows)


def strategies_for(match: str, *, tags: bool = True, sql_dir: Path | None = None) -> list[str]:
    """The strategies that serve ``match`` (with tags, or without any), in catalogue order."""
    return [s.strategy for s in read_strategies(sql_dir) if s.serves(match, tags=tags)]
