"""Online completion of the tag postings (migrations 0011 and 0018).

Migration 0011 gives ``content_tags`` a copy of its item's ``created_at`` and migration
0018 one of its ``is_private``; the postings index ``content_tags_tag_created_idx``
(tag_id, created_at DESC, content_id DESC) INCLUDE (content_source, is_private) replaces
``content_tags_tag_source_content_idx`` (before 0011) or the same index without
is_private (0011 to 0017). On an empty table the migrations build it. On a table that
already has links, filling the columns and building the index inside ``apply``'s
transaction would hold writes for minutes, so the migrations leave both to ``complete``,
which ``apply`` runs after its transaction has committed, in short transactions of its
own:

* fill the NULL ``created_at`` (and ``is_private``) of the links of one range of item ids
  at a time (``FILL_BATCH_LINKS`` links or so a batch; writers wait on one batch at most);
* set ``is_private`` on the links of private items the same way (the column's default
  is false);
* ``VACUUM`` the table: the fills leave pages that index-only reads of the postings
  would otherwise check in the table, row by row, until autovacuum comes by;
* ``CREATE INDEX CONCURRENTLY`` the new index (writes go on): under its own name when
  0011's index without is_private is still there, which is then dropped (``DROP INDEX
  CONCURRENTLY``) and the new one takes its name;
* ``DROP INDEX CONCURRENTLY`` the index 0011 replaced.

Links written meanwhile take both values from the triggers. The date fill only touches
links still NULL, which an item's change makes non-NULL; the privacy fill updates links
that have a date, and every such update takes the item's values again (the row trigger
reads the item as committed then), so nothing the fills write can go stale.

Every step is decided from the database as it is: an interrupted completion (a killed
connection, a restart) resumes where it stopped with the next ``apply``; an index an
interrupted build left INVALID is dropped and built again. Until the index is there,
gallery_plan does not choose ``tag_walk`` nor ``tag_merge``; until it carries
is_private, gallery_count does not read it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from pydeploy.errors import EXIT_FINDINGS, PydeployError


class CompletionFailed(PydeployError):
    """The migrations and functions are deployed, but a step after them failed (kept:
    what it did; the next apply resumes)."""

    exit_code = EXIT_FINDINGS


NEW_INDEX = "content_tags_tag_created_idx"
BUILD_INDEX = "content_tags_tag_created_new_idx"  # the new index while 0011's has its name
OLD_INDEX = "content_tags_tag_source_content_idx"
FILL_BATCH_LINKS = 50_000

FILL_DATES = "fill content_tags.created_at online, in batches of item ids"
FILL_PRIVACY = "set content_tags.is_private of private items' links online, in batches of item ids"
BUILD = "build index {} concurrently (reads and writes go on)"
DROP = "drop index {} concurrently"
RENAME = f"rename index {BUILD_INDEX} to {NEW_INDEX}"
VACUUM = "vacuum content_tags (its visibility map, for index-only reads of the postings)"

DROP_INDEX = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS public.{}")
CREATE_INDEX = sql.SQL(
    "CREATE INDEX CONCURRENTLY {} ON public.content_tags"
    " (tag_id, created_at DESC, content_id DESC) INCLUDE (content_source, is_private)"
)
FILL_DATES_SQL = """
UPDATE public.content_tags ct
   SET created_at = i.created_at, is_private = i.is_private
  FROM public.content_items_all i
 WHERE ct.content_id >= %(low)s AND ct.content_id < %(high)s AND ct.created_at IS NULL
   AND i.id = ct.content_id AND i.source_type = ct.content_source
"""
# (each link updated runs content_tags_take_created_at, which reads its item again: a
# privacy change committed after this statement's snapshot is what the link gets)
FILL_PRIVACY_SQL = """
UPDATE public.content_tags ct
   SET is_private = true
  FROM public.content_items_all i
 WHERE i.id >= %(low)s AND i.id < %(high)s AND i.is_private
   AND ct.content_id = i.id AND ct.content_source = i.source_type AND NOT ct.is_private
"""


def _scalar(conn: psycopg.Connection, query: LiteralString, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _index(conn: psycopg.Connection, name: str) -> tuple[bool, bool] | None:
    """(valid, carries is_private); valid False: an interrupted concurrent build; None:
    no such index."""
    row = conn.execute(
        "SELECT i.indisvalid, EXISTS (SELECT 1 FROM pg_attribute a"
        "                              WHERE a.attrelid = i.indexrelid"
        "                                AND a.attname = 'is_private')"
        "  FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
        (f"public.{name}",),
    ).fetchone()
    return None if row is None else (bool(row[0]), bool(row[1]))


def _has_column(conn: psycopg.Connection, name: str) -> bool:
    return bool(
        _scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_attribute"
            " WHERE attrelid = to_regclass('public.content_tags')"
            " AND attname = %s AND NOT attisdropped)",
            (name,),
        )
    )


def pending(conn: psycopg.Connection) -> list[str]:
    """What ``complete`` has left to do, in words (empty: nothing; for --dry-run and
    status). Before the migrations are applied, what they will leave to do."""
    return [what for what, _ in _steps(conn)]


def _steps(
    conn: psycopg.Connection,
) -> list[tuple[str, Callable[[psycopg.Connection], None]]]:
    if _scalar(conn, "SELECT to_regclass('public.content_tags')") is None:
        return []
    new, building = _index(conn, NEW_INDEX), _index(conn, BUILD_INDEX)
    old = _index(conn, OLD_INDEX)
    if new == (True, True) and building is None and old is None:
        return []
    if not bool(_scalar(conn, "SELECT EXISTS (SELECT 1 FROM public.content_tags)")):
        return []  # the migrations build the index on an empty table
    steps: list[tuple[str, Callable[[psycopg.Connection], None]]] = []
    if new != (True, True):
        # an index on created_at is built once its fill is done: while one is valid, nothing
        # is NULL
        if not _has_column(conn, "created_at") or (
            not (new and new[0])
            and not (building and building[0])
            and _scalar(
                conn, "SELECT EXISTS (SELECT 1 FROM public.content_tags WHERE created_at IS NULL)"
            )
        ):
            steps.append((FILL_DATES, lambda c: _fill(c, FILL_DATES_SQL)))
        if building != (True, True):
            steps.append((FILL_PRIVACY, lambda c: _fill(c, FILL_PRIVACY_SQL)))
            steps.append((VACUUM, _vacuum))
        if new is not None and new[0]:  # 0011's index, without is_private
            if building != (True, True):
                steps.append((BUILD.format(BUILD_INDEX), lambda c: _build(c, BUILD_INDEX)))
            steps.append((DROP.format(NEW_INDEX), lambda c: _drop(c, NEW_INDEX)))
            steps.append((RENAME, _rename))
        elif building == (True, True):  # dropped, not renamed yet
            if new is not None:
                steps.append((DROP.format(NEW_INDEX), lambda c: _drop(c, NEW_INDEX)))
            steps.append((RENAME, _rename))
        else:
            steps.append((BUILD.format(NEW_INDEX), lambda c: _build(c, NEW_INDEX)))
    elif building is not None:  # an interrupted build's leftover
        steps.append((DROP.format(BUILD_INDEX), lambda c: _drop(c, BUILD_INDEX)))
    if old is not None:
        steps.append((DROP.format(OLD_INDEX), lambda c: _drop(c, OLD_INDEX)))
    return steps


def complete(conn: psycopg.Connection, on_step: Callable[[str], None]) -> list[str]:
    """Do what ``pending`` lists (see the module doc); ``conn`` in autocommit mode.
    Returns the steps done; CompletionFailed if one fails (what was done is kept)."""
    if not _has_column(conn, "is_private"):
        return []
    steps = _steps(conn)
    current = ""
    try:
        for current, action in steps:
            on_step(current)
            action(conn)
    except psycopg.Error as e:
        raise CompletionFailed(
            f"the migrations and functions are deployed, but this step after them failed:"
            f" {current}: {e.diag.message_primary or e}",
            "run `pydeploy apply` again: it resumes where this one stopped; until then"
            " gallery_page works without the tag_walk and tag_merge strategies, and"
            " gallery_count without the links' is_private",
        ) from e
    return [what for what, _ in steps]


def _fill(conn: psycopg.Connection, query: LiteralString) -> None:
    """``query`` over the links of one range of item ids at a time."""
    # the batch width comes from the table's estimated size: a table never analyzed
    # (reltuples -1) would otherwise be filled in one transaction
    if (
        _scalar(conn, "SELECT reltuples FROM pg_class WHERE oid = 'public.content_tags'::regclass")
        < 0
    ):
        conn.execute("ANALYZE public.content_tags")
    low, high, links = conn.execute(
        "SELECT min(content_id), max(content_id),"
        " greatest((SELECT reltuples FROM pg_class"
        "           WHERE oid = 'public.content_tags'::regclass), 1)"
        " FROM public.content_tags"
    ).fetchone()  # type: ignore[misc]
    width = max(1, int((high - low + 1) * FILL_BATCH_LINKS / links))
    while low <= high:
        conn.execute(query, {"low": low, "high": low + width})
        low += width


def _build(conn: psycopg.Connection, name: str) -> None:
    """The index under ``name``, built afresh if an interrupted build left it INVALID."""
    if _index(conn, name) is not None:
        conn.execute(DROP_INDEX.format(sql.Identifier(name)))
    conn.execute(CREATE_INDEX.format(sql.Identifier(name)))


def _vacuum(conn: psycopg.Connection) -> None:
    conn.execute("VACUUM (ANALYZE) public.content_tags")


def _drop(conn: psycopg.Connection, name: str) -> None:
    conn.execute(DROP_INDEX.format(sql.Identifier(name)))


def _rename(conn: psycopg.Connection) -> None:
    conn.execute(
        sql.SQL("ALTER INDEX public.{} RENAME TO {}").format(
            sql.Identifier(BUILD_INDEX), sql.Identifier(NEW_INDEX)
        )
    )
