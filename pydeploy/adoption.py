"""Online preparation of a reference database's tables for adoption.

Turning ``content_items`` and ``content_items_auto`` into partitions needs a
proof, for every row, that ``source_type`` is right and that the core columns
are not NULL, plus a unique index on ``id`` and the keyset index. Proving that
inside ``apply``'s one transaction would scan the tables while holding the
ACCESS EXCLUSIVE lock its first ALTER took. So, before that transaction,
``prepare`` does the scanning work online, one short transaction per step:

* ``ADD COLUMN source_type ... DEFAULT`` (catalog only: a brief exclusive lock);
* ``CHECK (...) NOT VALID`` (brief), then ``VALIDATE`` (a scan under SHARE
  UPDATE EXCLUSIVE: reads and writes go on);
* ``CREATE INDEX CONCURRENTLY`` for missing indexes (writes go on).

Each step is marked with a comment (``COMMENT ON``) so that migration 0002 can
record what adoption added, and its rollback can remove exactly that. Migration
0002 then only attaches, with nothing left to scan. If ``apply`` fails after the
preparation, ``undo`` removes the preparation again: the database is left as it
was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pydeploy.errors import DeployError

LEGACY_TABLES = {"content_items": "items", "content_items_auto": "auto"}
NOT_NULL_COLUMNS = ("id", "creator_id", "is_private", "created_at")
ADDED_MARK = "gallery adoption: added"

# An index on exactly these key columns, in this order and direction, valid,
# plain btree, no predicate: one that migration 0002 and ATTACH will accept.
MATCHING_INDEX_SQL = """
SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
 WHERE i.indrelid = %(table)s::regclass AND i.indisvalid AND am.amname = 'btree'
   AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = %(ncols)s
   AND (NOT %(unique)s OR i.indisunique)
   AND ARRAY(SELECT a.attname::text
               FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              ORDER BY k.n) = %(columns)s::text[]
   AND i.indoption[0:i.indnkeyatts - 1]::int2[] = %(options)s::int2[]
"""

# The indexes the migrations put on the parent, so that they attach these instead of
# building them inside the transaction: (name suffix, columns, indoption per column
# (3 = DESC NULLS FIRST), unique).
REQUIRED_INDEXES = (
    ("id_key", ["id"], [0], True),
    ("created_at_id_idx", ["created_at", "id"], [3, 3], False),
    ("creator_id_created_at_id_idx", ["creator_id", "created_at", "id"], [0, 3, 3], False),
)


def needs_preparation(conn: psycopg.Connection) -> bool:
    """True for a database whose legacy tables are not partitions yet."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE c.relkind = 'r' AND NOT c.relispartition),"
        "       to_regclass('content_items_all') IS NULL"
        "  FROM pg_class c WHERE c.oid IN (to_regclass('content_items'),"
        "                                  to_regclass('content_items_auto'))"
    ).fetchone()
    return row is not None and bool(row[0]) and bool(row[1])


def _column_nullable(conn: psycopg.Connection, table: str, column: str) -> bool | None:
    """None when the table has no such column, else whether it is nullable."""
    row = conn.execute(
        "SELECT NOT attnotnull FROM pg_attribute WHERE attrelid = %s::regclass"
        " AND attname = %s AND NOT attisdropped",
        (table, column),
    ).fetchone()
    return None if row is None else row[0]


def _column_marked(conn: psycopg.Connection, table: str, column: str) -> bool:
    """Whether the column carries the mark of a preparation (one that was interrupted:
    once adopted, the table needs no preparation)."""
    row = conn.execute(
        "SELECT col_description(attrelid, attnum) = %s FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped",
        (ADDED_MARK, table, column),
    ).fetchone()
    return row is not None and row[0] is True


def _constraint_state(conn: psycopg.Connection, table: str, name: str) -> bool | None:
    """None when the table has no such constraint, else whether it is validated."""
    row = conn.execute(
        "SELECT convalidated FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
        (table, name),
    ).fetchone()
    return None if row is None else row[0]


def _index_state(conn: psycopg.Connection, name: str) -> tuple[bool, str | None] | None:
    """None when there is no such index, else (valid, comment)."""
    row = conn.execute(
        "SELECT i.indisvalid, obj_description(i.indexrelid, 'pg_class')"
        "  FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
        (name,),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def _matching_index(
    conn: psycopg.Connection, table: str, columns: list[str], options: list[int], unique: bool
) -> bool:
    return bool(
        conn.execute(
            MATCHING_INDEX_SQL,
            {
                "table": table,
                "ncols": len(columns),
                "unique": unique,
                "columns": columns,
                "options": options,
            },
        ).fetchone()
    )


@dataclass(frozen=True)
class Step:
    """One committed step of the preparation: what it does, in words and in SQL
    (several statements run in one transaction), and how to take it back."""

    description: str
    statements: tuple[sql.SQL | sql.Composed, ...]
    undo: sql.SQL | sql.Composed | None = None


def _steps(conn: psycopg.Connection) -> list[Step]:
    """What the legacy tables still need, as decided from the catalog now."""
    if not needs_preparation(conn):
        return []
    steps = []
    for table, source in LEGACY_TABLES.items():
        t = sql.Identifier(table)
        drop_column = sql.SQL("ALTER TABLE {} DROP COLUMN source_type").format(t)
        if _column_marked(conn, table, "source_type"):
            # an interrupted preparation added it: keep it, and take it back on failure
            steps.append(Step(f"keep column {table}.source_type (added earlier)", (), drop_column))
        elif _column_nullable(conn, table, "source_type") is None:
            steps.append(
                Step(
                    f"add column {table}.source_type DEFAULT '{source}'",
                    (
                        sql.SQL(
                            "ALTER TABLE {} ADD COLUMN source_type text NOT NULL DEFAULT {}"
                        ).format(t, sql.Literal(source)),
                        sql.SQL("COMMENT ON COLUMN {}.source_type IS {}").format(
                            t, sql.Literal(ADDED_MARK)
                        ),
                    ),
                    drop_column,
                )
            )
        checks = [
            (
                f"{table}_partition_check",
                f"source_type = '{source}'",
                sql.SQL("source_type = {}").format(sql.Literal(source)),
            )
        ]
        checks += [
            (
                f"{table}_{column}_not_null",
                f"{column} IS NOT NULL",
                sql.SQL("{} IS NOT NULL").format(sql.Identifier(column)),
            )
            for column in NOT_NULL_COLUMNS
            if _column_nullable(conn, table, column)
        ]
        for name, words, condition in checks:
            c = sql.Identifier(name)
            drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(t, c)
            state = _constraint_state(conn, table, name)
            if state:  # validated by an interrupted preparation
                steps.append(Step(f"keep {name} (validated earlier)", (), drop))
                continue
            if state is None:
                steps.append(
                    Step(
                        f"add CHECK ({words}) NOT VALID on {table}",
                        (
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID").format(
                                t, c, condition
                            ),
                        ),
                        drop,
                    )
                )
            steps.append(
                Step(
                    f"validate {name} (a scan; reads and writes go on)",
                    (sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(t, c),),
                    drop if state is False else None,  # left NOT VALID earlier
                )
            )
        for suffix, columns, options, unique in REQUIRED_INDEXES:
            index = sql.Identifier(f"{table}_{suffix}")
            drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(index)
            index_state = _index_state(conn, f"{table}_{suffix}")
            if _matching_index(conn, table, columns, options, unique):
                if index_state == (True, ADDED_MARK):  # built by an interrupted preparation
                    steps.append(Step(f"keep index {table}_{suffix} (built earlier)", (), drop))
                continue
            if index_state is not None and not index_state[0]:
                # an interrupted CREATE INDEX CONCURRENTLY leaves its index INVALID
                steps.append(
                    Step(f"drop invalid index {table}_{suffix} (an interrupted build)", (drop,))
                )
            keys = sql.SQL(", ").join(
                sql.SQL("{}{}").format(sql.Identifier(c), sql.SQL(" DESC" if o & 1 else ""))
                for c, o in zip(columns, options, strict=True)
            )
            # CONCURRENTLY cannot share a transaction, and a failed build leaves an
            # invalid index behind: the undo drops it either way
            steps.append(
                Step(
                    f"build index {table}_{suffix} concurrently",
                    (
                        sql.SQL("CREATE {}INDEX CONCURRENTLY {} ON {} ({})").format(
                            sql.SQL("UNIQUE " if unique else ""), index, t, keys
                        ),
                    ),
                    drop,
                )
            )
            steps.append(
                Step(
                    f"mark index {table}_{suffix}",
                    (sql.SQL("COMMENT ON INDEX {} IS {}").format(index, sql.Literal(ADDED_MARK)),),
                )
            )
    return steps


def plan(conn: psycopg.Connection) -> list[str]:
    """The preparation steps ``prepared`` would take, in words (for --dry-run)."""
    return [step.description for step in _steps(conn)]


def _undo(conn: psycopg.Connection, statements: list[sql.SQL | sql.Composed]) -> bool:
    """Run the undo statements, last step first; False if any failed (a lost
    connection fails them all)."""
    complete = True
    for statement in reversed(statements):
        try:
            conn.execute(statement)
        except psycopg.Error:
            complete = False
    return complete


@contextmanager
def prepared(conn: psycopg.Connection) -> Iterator[list[str]]:
    """Prepare the legacy tables (see the module doc) for the block; undo on error.

    ``conn`` must be in autocommit mode: every step commits on its own. Every step
    is decided from the catalog as it is, so a preparation that was interrupted
    (its connection killed, the machine restarted) resumes where it stopped: what
    it added is kept, a constraint it left NOT VALID is validated, an index it left
    INVALID is dropped and built again. The undo covers that too.
    """
    undo: list[sql.SQL | sql.Composed] = []
    done: list[str] = []
    try:
        for step in _steps(conn):
            if step.undo is not None:
                undo.append(step.undo)
            try:
                with conn.transaction() if len(step.statements) > 1 else nullcontext():
                    for statement in step.statements:
                        conn.execute(statement)
            except psycopg.Error as e:
                complete = _undo(conn, undo)
                undo = []
                raise DeployError(
                    f"preparing the legacy tables for adoption failed at: {step.description}: "
                    f"{e.diag.message_primary or e}",
                    "fix the data or the table and run `pydeploy apply` again; "
                    "nothing of the preparation is left behind"
                    if complete
                    else "the preparation could not be undone (its connection was lost): "
                    "run `pydeploy apply` again, it resumes where this one stopped "
                    "(`pydeploy apply --dry-run` lists what is left to do)",
                ) from e
            done.append(step.description)
        yield done
    except BaseException:
        _undo(conn, undo)  # best effort: the original error is what matters
        raise
