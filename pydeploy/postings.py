"""Online completion of the time-ordered tag postings (migration 0011).

Migration 0011 gives ``content_tags`` a copy of its item's ``created_at`` and, on an
empty table, builds the index ``content_tags_tag_created_idx`` (tag_id, created_at
DESC, content_id DESC) INCLUDE (content_source) in place of
``content_tags_tag_source_content_idx``. On a table that already has links, filling the
column and building the index inside ``apply``'s transaction would hold writes for
minutes, so the migration leaves both to ``complete``, which ``apply`` runs after its
transaction has committed, in short transactions of its own:

* fill the NULL ``created_at`` of the links of one range of item ids at a time
  (``FILL_BATCH_LINKS`` links or so a batch; writers wait on one batch at most);
* ``CREATE INDEX CONCURRENTLY`` the new index (writes go on);
* ``DROP INDEX CONCURRENTLY`` the old one.

Links written meanwhile take their date from the triggers, and the fill only touches
links still NULL, so nothing it reads can go stale. Every step is decided from the
database as it is: an interrupted completion (a killed connection, a restart) resumes
where it stopped with the next ``apply``; an index an interrupted build left INVALID is
dropped and built again. Until the new index is valid, gallery_plan does not choose
``tag_walk``.
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
OLD_INDEX = "content_tags_tag_source_content_idx"
FILL_BATCH_LINKS = 50_000

DROP_INDEX = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS public.{}")
FILL_SQL = """
UPDATE public.content_tags ct
   SET created_at = i.created_at
  FROM public.content_items_all i
 WHERE ct.content_id >= %(low)s AND ct.content_id < %(high)s AND ct.created_at IS NULL
   AND i.id = ct.content_id AND i.source_type = ct.content_source
"""


def _scalar(conn: psycopg.Connection, query: LiteralString, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _index_valid(conn: psycopg.Connection, name: str) -> bool | None:
    """True or False (INVALID: an interrupted concurrent build); None: no such index."""
    value = _scalar(
        conn,
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
        (f"public.{name}",),
    )
    return None if value is None else bool(value)


def _migrated(conn: psycopg.Connection) -> bool:
    return bool(
        _scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_attribute"
            " WHERE attrelid = to_regclass('public.content_tags')"
            " AND attname = 'created_at' AND NOT attisdropped)",
        )
    )


def pending(conn: psycopg.Connection) -> list[str]:
    """What ``complete`` has left to do, in words (empty: nothing; for --dry-run and
    status). Before migration 0011 is applied, what it will leave to do."""
    if _scalar(conn, "SELECT to_regclass('public.content_tags')") is None:
        return []
    migrated = _migrated(conn)
    new_index = _index_valid(conn, NEW_INDEX) if migrated else None
    if new_index and _index_valid(conn, OLD_INDEX) is None:
        return []
    if not bool(_scalar(conn, "SELECT EXISTS (SELECT 1 FROM public.content_tags)")):
        return []  # the migration builds the index on an empty table
    steps = []
    # the index is built once the fill is done: while it is valid, nothing is NULL
    if not migrated or (
        not new_index
        and _scalar(
            conn, "SELECT EXISTS (SELECT 1 FROM public.content_tags WHERE created_at IS NULL)"
        )
    ):
        steps.append("fill content_tags.created_at online, in batches of item ids")
    if not new_index:
        steps.append(f"build index {NEW_INDEX} concurrently (reads and writes go on)")
    if _index_valid(conn, OLD_INDEX) is not None:
        steps.append(f"drop index {OLD_INDEX} concurrently")
    return steps


def complete(conn: psycopg.Connection, on_step: Callable[[str], None]) -> list[str]:
    """Do what ``pending`` lists (see the module doc); ``conn`` in autocommit mode.
    Returns the steps done; CompletionFailed if one fails (what was done is kept)."""
    steps = pending(conn) if _migrated(conn) else []
    if not steps:
        return []
    current = steps[0]

    def step(what: str) -> None:
        nonlocal current
        current = what
        on_step(what)

    try:
        _complete(conn, steps, step)
    except psycopg.Error as e:
        raise CompletionFailed(
            f"the migrations and functions are deployed, but this step after them failed:"
            f" {current}: {e.diag.message_primary or e}",
            "run `pydeploy apply` again: it resumes where this one stopped; until then"
            " gallery_page works without the tag_walk strategy",
        ) from e
    return steps


def _complete(conn: psycopg.Connection, steps: list[str], on_step: Callable[[str], None]) -> None:
    if steps[0].startswith("fill"):
        on_step(steps[0])
        # the batch width comes from the table's estimated size: a table never analyzed
        # (reltuples -1) would otherwise be filled in one transaction
        if (
            _scalar(
                conn, "SELECT reltuples FROM pg_class WHERE oid = 'public.content_tags'::regclass"
            )
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
            conn.execute(FILL_SQL, {"low": low, "high": low + width})
            low += width
    if _index_valid(conn, NEW_INDEX) is False:
        conn.execute(DROP_INDEX.format(sql.Identifier(NEW_INDEX)))
    if not _index_valid(conn, NEW_INDEX):
        on_step(f"build index {NEW_INDEX} concurrently (reads and writes go on)")
        conn.execute(
            sql.SQL(
                "CREATE INDEX CONCURRENTLY {} ON public.content_tags"
                " (tag_id, created_at DESC, content_id DESC) INCLUDE (content_source)"
            ).format(sql.Identifier(NEW_INDEX))
        )
    if _index_valid(conn, OLD_INDEX) is not None:
        on_step(f"drop index {OLD_INDEX} concurrently")
        conn.execute(DROP_INDEX.format(sql.Identifier(OLD_INDEX)))
