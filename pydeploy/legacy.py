"""Moving a reference database's tag arrays into content_tags: backfill and verify.

A database adopted from the reference application keeps each item's tags in a
``tags uuid[]`` column. ``backfill`` copies them into ``content_tags``:

* the items of each partition are cut into chunks of consecutive ids, listed in
  ``legacy_tags_backfill`` (once: later runs reuse the list);
* each worker takes a pending chunk (``FOR UPDATE SKIP LOCKED``), copies its
  links and marks it done in the same transaction. An interrupted run (Ctrl-C,
  crash, kill) loses at most the chunks in flight, which stay pending and are
  redone by the next run: nothing is inserted twice, nothing is skipped;
* it is safe while the application writes: a chunk share-locks the items it
  reads, so a concurrent change of an item's array waits for the chunk and is
  then applied by the dual-write trigger; items written after ``pydeploy
  apply`` installed that trigger are kept in step by it anyway.

Tag ids that are not in ``tags`` are skipped and counted.

``verify`` compares both sides: per tag and source, the number of items whose
array holds the tag against the number of links; and, for a random sample of
items, the array against the item's links.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pydeploy.db import connect, resolve_dsn
from pydeploy.errors import PydeployError

PARTITIONS = {"items": "content_items", "auto": "content_items_auto"}

PLAN_CHUNKS_SQL = """
INSERT INTO legacy_tags_backfill (source_type, first_id, last_id)
SELECT %(source)s, min(id), max(id)
  FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(chunk_items)s AS chunk
          FROM {partition}) AS numbered
 GROUP BY chunk
"""

CLAIM_SQL = """
SELECT source_type, first_id, last_id FROM legacy_tags_backfill
 WHERE done_at IS NULL
 ORDER BY source_type, first_id
 LIMIT 1
   FOR UPDATE SKIP LOCKED
"""

# A chunk is first inserted as it is: the fast path, and the usual one, since
# the chunk's items are share-locked and nothing else writes their links. A link
# that is already there (the dual-write trigger copied it when the item was
# written after `pydeploy apply`) makes that INSERT fail with a unique
# violation; the chunk is then redone with ON CONFLICT DO NOTHING.
COPY_CHUNK_SQL = """
WITH chunk AS MATERIALIZED (
    SELECT id, tags FROM {partition}
     WHERE id BETWEEN %(first_id)s AND %(last_id)s
       FOR SHARE
), wanted AS MATERIALIZED (
    SELECT DISTINCT c.id, e.tag
      FROM chunk c CROSS JOIN LATERAL unnest(c.tags) AS e(tag)
     WHERE e.tag IS NOT NULL
), inserted AS (
    INSERT INTO content_tags (content_id, content_source, tag_id)
    SELECT w.id, %(source)s, w.tag
      FROM wanted w JOIN tags t ON t.id = w.tag
    {on_conflict}
    RETURNING 1
)
SELECT (SELECT count(*) FROM chunk),
       (SELECT count(*) FROM inserted),
       (SELECT count(*) FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = w.tag))
"""

FINISH_CHUNK_SQL = """
UPDATE legacy_tags_backfill
   SET items = %(items)s, links = %(links)s, unknown_tags = %(unknown)s, done_at = now()
 WHERE source_type = %(source)s AND first_id = %(first_id)s
"""


class NoLegacyTags(PydeployError):
    """The database has no legacy tags column: there is nothing to backfill or verify."""

    exit_code = 0


@dataclass
class BackfillBatch:
    source_type: str
    items: int
    links: int
    unknown_tags: int


@dataclass
class BackfillResult:
    items: int = 0
    links: int = 0
    unknown_tags: int = 0
    seconds: float = 0.0


def _require_legacy_column(conn: psycopg.Connection) -> None:
    row = conn.execute("SELECT to_regclass('legacy_tags_backfill')").fetchone()
    if row is None or row[0] is None:
        raise NoLegacyTags(
            "this database has no legacy tags column (content_items_all.tags): nothing to do",
            "backfill and verify are for databases adopted from the reference application",
        )


def plan_chunks(
    dsn: str | None, *, chunk_items: int = 5000, restart: bool = False
) -> dict[str, int]:
    """List the work (once; again on restart); return the items still to copy per source."""
    if chunk_items < 1:
        raise PydeployError("the chunk size must be at least 1", "use --batch-size 5000")
    with connect(dsn) as conn:
        _require_legacy_column(conn)
        with conn.transaction():
            conn.execute("LOCK TABLE legacy_tags_backfill IN SHARE ROW EXCLUSIVE MODE")
            if restart:
                conn.execute("DELETE FROM legacy_tags_backfill")
            for source, partition in PARTITIONS.items():
                planned = conn.execute(
                    "SELECT 1 FROM legacy_tags_backfill WHERE source_type = %s LIMIT 1", (source,)
                ).fetchone()
                if not planned:
                    conn.execute(
                        sql.SQL(PLAN_CHUNKS_SQL).format(partition=sql.Identifier(partition)),
                        {"source": source, "chunk_items": chunk_items},
                    )
        remaining: dict[str, int] = {}
        for source, partition in PARTITIONS.items():
            counted = conn.execute(
                sql.SQL(
                    "SELECT count(*) FROM {} i JOIN legacy_tags_backfill b"
                    " ON b.source_type = %s AND b.done_at IS NULL"
                    " AND i.id BETWEEN b.first_id AND b.last_id"
                ).format(sql.Identifier(partition)),
                (source,),
            ).fetchone()
            remaining[source] = int(counted[0]) if counted else 0
        return remaining


def _copy_next_chunk(conn: psycopg.Connection) -> BackfillBatch | None:
    """Copy one pending chunk in one transaction; None when no chunk is left."""
    with conn.transaction():
        conn.execute("SET LOCAL work_mem = '64MB'")
        # The chunk's links and its done mark commit together, so a commit lost in a
        # crash loses both and the chunk is simply redone: no need to wait for the flush.
        conn.execute("SET LOCAL synchronous_commit = off")
        claimed = conn.execute(CLAIM_SQL).fetchone()
        if claimed is None:
            return None
        source, first_id, last_id = claimed
        params = {"source": source, "first_id": first_id, "last_id": last_id}
        partition = sql.Identifier(PARTITIONS[source])
        try:
            with conn.transaction():
                copied = conn.execute(
                    sql.SQL(COPY_CHUNK_SQL).format(partition=partition, on_conflict=sql.SQL("")),
                    params,
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            copied = conn.execute(
                sql.SQL(COPY_CHUNK_SQL).format(
                    partition=partition, on_conflict=sql.SQL("ON CONFLICT DO NOTHING")
                ),
                params,
            ).fetchone()
        items, links, unknown = copied if copied else (0, 0, 0)
        conn.execute(
            FINISH_CHUNK_SQL, params | {"items": items, "links": links, "unknown": unknown}
        )
    return BackfillBatch(source, items, links, unknown)


def backfill(
    dsn: str | None,
    *,
    jobs: int = 2,
    on_batch: Callable[[BackfillBatch], None] | None = None,
) -> BackfillResult:
    """Copy every pending chunk (see plan_chunks) with ``jobs`` connections in parallel."""
    if jobs < 1:
        raise PydeployError("--jobs must be at least 1")
    conninfo = resolve_dsn(dsn)
    result = BackfillResult()
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()

    def work() -> None:
        try:
            with connect(conninfo, autocommit=True) as conn:
                while not stop.is_set():
                    batch = _copy_next_chunk(conn)
                    if batch is None:
                        return
                    with lock:
                        result.items += batch.items
                        result.links += batch.links
                        result.unknown_tags += batch.unknown_tags
                        if on_batch is not None:
                            on_batch(batch)
        except BaseException as e:  # reported by the main thread
            stop.set()
            errors.append(e)

    started = time.monotonic()
    workers = [threading.Thread(target=work, daemon=True) for _ in range(jobs)]
    for w in workers:
        w.start()
    try:
        for w in workers:
            while w.is_alive():
                w.join(0.2)
    except KeyboardInterrupt:
        stop.set()  # workers finish the chunk in hand, and commit it
        for w in workers:
            w.join()
        raise
    if errors:
        raise errors[0]
    result.seconds = time.monotonic() - started
    return result


@dataclass
class TagDifference:
    tag_id: str
    source_type: str
    items_with_tag_in_array: int
    links: int
    tag_exists: bool


@dataclass
class ItemDifference:
    id: int
    source_type: str
    only_in_array: list[str]
    only_in_links: list[str]


@dataclass
class VerifyReport:
    sampled_items: int
    tags: list[TagDifference] = field(default_factory=list)
    items: list[ItemDifference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.tags and not self.items


TAG_COUNTS_SQL = """
WITH in_arrays AS (
    SELECT u.tag, i.source_type, count(*) AS n
      FROM content_items_all i
     CROSS JOIN LATERAL (SELECT DISTINCT tag FROM unnest(i.tags) AS tag
                          WHERE tag IS NOT NULL) AS u
     GROUP BY 1, 2
), in_links AS (
    SELECT tag_id, content_source, count(*) AS n FROM content_tags GROUP BY 1, 2
)
SELECT coalesce(a.tag, l.tag_id)::text, coalesce(a.source_type, l.content_source),
       coalesce(a.n, 0), coalesce(l.n, 0),
       EXISTS (SELECT 1 FROM tags t WHERE t.id = coalesce(a.tag, l.tag_id))
  FROM in_arrays a
  FULL JOIN in_links l ON l.tag_id = a.tag AND l.content_source = a.source_type
 WHERE a.n IS DISTINCT FROM l.n
 ORDER BY 1, 2
"""

SAMPLE_SQL = """
WITH sample AS (
    SELECT id, source_type, tags FROM content_items_all ORDER BY random() LIMIT %(n)s
)
SELECT s.id, s.source_type,
       ARRAY(SELECT t::text FROM unnest(s.tags) AS t WHERE t IS NOT NULL
             EXCEPT SELECT c.tag_id::text FROM content_tags c
                     WHERE c.content_id = s.id AND c.content_source = s.source_type
             ORDER BY 1),
       ARRAY(SELECT c.tag_id::text FROM content_tags c
              WHERE c.content_id = s.id AND c.content_source = s.source_type
             EXCEPT SELECT t::text FROM unnest(s.tags) AS t
             ORDER BY 1),
       count(*) OVER ()
  FROM sample s
"""


def verify(dsn: str | None, *, sample: int = 1000) -> VerifyReport:
    """Differences between legacy arrays and content_tags (none: report.ok)."""
    with connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
        _require_legacy_column(conn)
        tags = [TagDifference(*row) for row in conn.execute(TAG_COUNTS_SQL)]
        sampled = 0
        items = []
        for item_id, source, only_in_array, only_in_links, total in conn.execute(
            SAMPLE_SQL, {"n": sample}
        ):
            sampled = total
            if only_in_array or only_in_links:
                items.append(ItemDifference(item_id, source, only_in_array, only_in_links))
        return VerifyReport(sampled, tags, items)
