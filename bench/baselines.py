"""The four baselines gallery_page is measured against, and their page queries.

* ``before``: the seeds' query on the public tables: one branch per source
  (content_items / content_items_auto x own / community) with one EXISTS on
  content_tags per tag (one EXISTS with ``tag_id = ANY`` for match 'any'),
  UNION ALL, ``ORDER BY created_at DESC, id DESC OFFSET (page - 1) * 25 LIMIT 25``.
* ``after``: the reference application's query on the public tables: one
  EXISTS per tag on the partitioned parent, keyset ``(created_at, id) < (...)``.
* ``gin``: what a DBA would try instead, in schema ``bench_gin``: one row per
  item with its tags as ``int[]`` (numbers from a tag uuid -> int table), a GIN
  index (intarray's gin__int_ops), btrees on (created_at DESC, id DESC) and
  (creator_id, created_at DESC, id DESC); ``@>`` for all, ``&&`` for any, keyset.
* ``rum``: the same table in schema ``bench_rum`` with a RUM index on the
  array that carries created_at (rum_anyarray_addon_ops, attach created_at),
  read in created_at order through RUM's distance operator, keyset.

Every query returns (id, source_type, created_at) of one page, in gallery_page's
order (created_at DESC, id DESC). The public tables' layout is the reference
application's; the two schemas are built from the same data by
:func:`ensure_baselines`, which times each step and records it in the schema.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bench.workload import PAGE_SIZE, QueryClass

GIN_SCHEMA = "bench_gin"
RUM_SCHEMA = "bench_rum"
BASELINES = ("before", "after", "gin", "rum")
EXTENSIONS = {GIN_SCHEMA: "intarray", RUM_SCHEMA: "rum"}
OWN_TABLES = (
    "content_items",
    "content_items_auto",
    "content_tags",
    "tags",
    "tag_cardinality_stats",
)

Query = tuple[sql.Composable, dict[str, object]]
Keyset = tuple[datetime, int]

# (source_type, partition, own source, community source)
SOURCE_TYPES = (
    ("items", "content_items", "user-regular", "community-regular"),
    ("auto", "content_items_auto", "user-auto", "community-auto"),
)

VIEWER = sql.SQL("{}::bigint").format(sql.Placeholder("viewer"))
OWN = sql.SQL("i.creator_id = {}").format(VIEWER)
OTHERS = sql.SQL("(i.creator_id IS DISTINCT FROM {} AND NOT i.is_private)").format(VIEWER)
OWN_OR_OTHERS = sql.SQL("(i.creator_id = {} OR NOT i.is_private)").format(VIEWER)
KEYSET = sql.SQL("(i.created_at, i.id) < ({}::timestamptz, {}::bigint)").format(
    sql.Placeholder("after_created_at"), sql.Placeholder("after_id")
)
KEYSET_NEWER = sql.SQL("(i.created_at, i.id) > ({}::timestamptz, {}::bigint)").format(
    sql.Placeholder("after_created_at"), sql.Placeholder("after_id")
)
PAGE_ORDER = sql.SQL("ORDER BY created_at DESC, id DESC")


def _scope(sources: Sequence[str]) -> sql.Composable:
    """What the sources let the viewer see, on alias i (gallery_page's semantics)."""
    parts = []
    for source_type, _, own, others in SOURCE_TYPES:
        if own in sources and others in sources:
            parts.append((source_type, OWN_OR_OTHERS))
        elif own in sources:
            parts.append((source_type, OWN))
        elif others in sources:
            parts.append((source_type, OTHERS))
    if len(parts) == 2 and parts[0][1] == parts[1][1]:
        return parts[0][1]
    return sql.SQL("({})").format(
        sql.SQL(" OR ").join(
            sql.SQL("(i.source_type = {} AND {})").format(sql.Literal(s), cond) for s, cond in parts
        )
    )


def _exists(match: str, count: int, source: sql.Composable) -> list[sql.Composable]:
    """One EXISTS per tag (all; parameters tag0, tag1, ...) or one for all tags (any)."""
    link = sql.SQL(
        "EXISTS (SELECT 1 FROM content_tags ct"
        " WHERE ct.content_id = i.id AND ct.content_source = {} AND ct.tag_id {})"
    )
    if count == 0:
        return []
    if match == "any":
        return [link.format(source, sql.SQL("= ANY ({}::uuid[])").format(sql.Placeholder("tags")))]
    return [
        link.format(source, sql.SQL("= {}").format(sql.Placeholder(f"tag{n}")))
        for n in range(count)
    ]


def _tag_params(qc: QueryClass) -> dict[str, object]:
    return {"tags": list(qc.tags), **{f"tag{n}": tag for n, tag in enumerate(qc.tags)}}


def _where(conditions: Sequence[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(conditions)


def _keyset_params(keyset: Keyset | None) -> dict[str, object]:
    return {} if keyset is None else {"after_created_at": keyset[0], "after_id": keyset[1]}


def before_query(qc: QueryClass, page: int) -> Query:
    """The seeds' query: the sources' branches, UNION ALL, OFFSET to the page."""
    branches = []
    for source_type, table, own, others in SOURCE_TYPES:
        for source, scope in ((own, OWN), (others, OTHERS)):
            if source not in qc.sources:
                continue
            conditions = [scope, *_exists(qc.match, len(qc.tags), sql.Literal(source_type))]
            branches.append(
                sql.SQL(
                    "SELECT i.id::bigint AS id, {}::text AS source_type, i.created_at"
                    " FROM {} i WHERE {}"
                ).format(sql.Literal(source_type), sql.Identifier(table), _where(conditions))
            )
    query = sql.SQL("{} {} OFFSET {}::bigint LIMIT {}").format(
        sql.SQL(" UNION ALL ").join(branches),
        PAGE_ORDER,
        sql.Placeholder("offset"),
        sql.Literal(PAGE_SIZE),
    )
    return query, {"viewer": qc.viewer_id, "offset": (page - 1) * PAGE_SIZE, **_tag_params(qc)}


def after_query(qc: QueryClass, keyset: Keyset | None) -> Query:
    """The reference application's query: EXISTS per tag on the parent, keyset."""
    conditions = [_scope(qc.sources), *_exists(qc.match, len(qc.tags), sql.SQL("i.source_type"))]
    if keyset is not None:
        conditions.append(KEYSET)
    query = sql.SQL(
        "SELECT i.id::bigint, i.source_type::text, i.created_at FROM content_items_all i"
        " WHERE {} ORDER BY i.created_at DESC, i.id DESC LIMIT {}"
    ).format(_where(conditions), sql.Literal(PAGE_SIZE))
    return query, {"viewer": qc.viewer_id, **_tag_params(qc), **_keyset_params(keyset)}


@dataclass(frozen=True)
class ArrayBaseline:
    """One of the array baselines: its schema, and the schema of the extension whose
    operators its queries name (intarray's for gin, rum's for rum)."""

    schema: str
    extension_schema: str

    def tag_numbers(self, conn: psycopg.Connection, tags: Sequence[uuid.UUID]) -> list[int]:
        rows = conn.execute(
            sql.SQL("SELECT tag_no FROM {} WHERE tag_id = ANY (%s::uuid[]) ORDER BY 1").format(
                sql.Identifier(self.schema, "tag_numbers")
            ),
            (list(tags),),
        ).fetchall()
        return [r[0] for r in rows]


def array_baseline(conn: psycopg.Connection, schema: str) -> ArrayBaseline:
    (extension_schema,) = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = %s",
        (EXTENSIONS[schema],),
    ).fetchone()
    return ArrayBaseline(schema, extension_schema)


def _array_query_parts(
    qc: QueryClass,
    keyset: Keyset | None,
    tag_nos: Sequence[int],
    operators: str,
    *,
    newer: bool = False,
) -> tuple[list[sql.Composable], dict[str, object]]:
    """Scope, keyset (items older than it, or newer: newer) and (with tags) the array
    condition; the parameters they use."""
    conditions = [_scope(qc.sources)]
    if keyset is not None:
        conditions.append(KEYSET_NEWER if newer else KEYSET)
    if qc.tags:
        conditions.append(
            sql.SQL("i.tag_ids OPERATOR({}.{}) {}::integer[]").format(
                sql.Identifier(operators),
                sql.SQL("&&" if qc.match == "any" else "@>"),
                sql.Placeholder("tag_nos"),
            )
        )
    return conditions, {"viewer": qc.viewer_id, "tag_nos": list(tag_nos), **_keyset_params(keyset)}


def gin_query(
    gin: ArrayBaseline,
    qc: QueryClass,
    keyset: Keyset | None,
    tag_nos: Sequence[int],
    *,
    page_size: int = PAGE_SIZE,
    newer: bool = False,
) -> Query:
    """``@>`` / ``&&`` (intarray's) on the GIN-indexed array, keyset. newer: the page
    just before the keyset (the page_size items newer than it), still newest first."""
    conditions, params = _array_query_parts(qc, keyset, tag_nos, gin.extension_schema, newer=newer)
    items, where, limit = (
        sql.Identifier(gin.schema, "items"),
        _where(conditions),
        sql.Literal(page_size),
    )
    if newer:
        query = sql.SQL(
            "SELECT * FROM (SELECT i.id, i.source_type, i.created_at FROM {} i"
            " WHERE {} ORDER BY i.created_at, i.id LIMIT {}) AS page {}"
        ).format(items, where, limit, PAGE_ORDER)
    else:
        query = sql.SQL(
            "SELECT i.id, i.source_type, i.created_at FROM {} i"
            " WHERE {} ORDER BY i.created_at DESC, i.id DESC LIMIT {}"
        ).format(items, where, limit)
    return query, params


def rum_query(
    rum: ArrayBaseline,
    qc: QueryClass,
    keyset: Keyset | None,
    tag_nos: Sequence[int],
    anchor: datetime,
) -> Query:
    """The RUM index read in created_at order, made exact for ties.

    RUM orders by a distance, ``created_at <=| anchor`` (anchor minus created_at,
    infinite past the anchor; the anchor is the cursor's created_at, or on the
    first page the newest item's), so it orders by created_at only and returns
    items with equal created_at in any order. Its first PAGE_SIZE rows hold every
    row newer than the last one's created_at T but maybe only some of the rows at
    T: the page is those rows plus every matching row at exactly T, sorted by
    (created_at DESC, id DESC) outside the index and cut to PAGE_SIZE.
    Without tags RUM has nothing to read: the query is then the GIN baseline's
    (same table layout, same btrees).
    """
    if not qc.tags:
        return gin_query(rum, qc, keyset, tag_nos)
    conditions, params = _array_query_parts(qc, keyset, tag_nos, "pg_catalog")
    query = sql.SQL(
        "WITH firsts AS MATERIALIZED ("
        "  SELECT i.id, i.source_type, i.created_at FROM {items} i WHERE {conditions}"
        "   ORDER BY i.created_at OPERATOR({rum}.<=|) {anchor}::timestamptz LIMIT {n})"
        " SELECT id, source_type, created_at FROM ("
        "  SELECT * FROM firsts"
        "  UNION"
        "  SELECT i.id, i.source_type, i.created_at FROM {items} i"
        "   WHERE {conditions} AND i.created_at = (SELECT min(created_at) FROM firsts)"
        " ) AS page {order} LIMIT {n}"
    ).format(
        items=sql.Identifier(rum.schema, "items"),
        conditions=_where(conditions),
        rum=sql.Identifier(rum.extension_schema),
        anchor=sql.Placeholder("anchor"),
        n=sql.Literal(PAGE_SIZE),
        order=PAGE_ORDER,
    )
    return query, {**params, "anchor": anchor}


def rum_first_anchor(conn: psycopg.Connection) -> datetime:
    """The RUM query's anchor for a first page: the newest item's created_at."""
    return conn.execute(
        sql.SQL("SELECT max(created_at) FROM {}").format(sql.Identifier(RUM_SCHEMA, "items"))
    ).fetchone()[0]


# ---------------------------------------------------------------------------- build

ITEMS_SQL = """
INSERT INTO {items} (id, source_type, created_at, creator_id, is_private, tag_ids)
SELECT i.id, i.source_type, i.created_at, i.creator_id, i.is_private, coalesce(a.nos, '{{}}')
  FROM public.content_items_all i
  LEFT JOIN (SELECT ct.content_id, ct.content_source, array_agg(n.tag_no ORDER BY n.tag_no) AS nos
               FROM public.content_tags ct
               JOIN {numbers} n ON n.tag_id = ct.tag_id
              GROUP BY ct.content_id, ct.content_source) AS a
         ON a.content_id = i.id AND a.content_source = i.source_type
"""


def copy_item(conn: psycopg.Connection, schema: str, item_id: int) -> None:
    """Bring one item's row of an array baseline in line with the package's tables
    (inserted, deleted, re-tagged or changed there), in the caller's transaction."""
    items = sql.Identifier(schema, "items")
    conn.execute(sql.SQL("DELETE FROM {} WHERE id = %(id)s").format(items), {"id": item_id})
    conn.execute(
        sql.SQL(ITEMS_SQL + " WHERE i.id = %(id)s").format(
            items=items, numbers=sql.Identifier(schema, "tag_numbers")
        ),
        {"id": item_id},
    )


def array_baseline_in_sync(conn: psycopg.Connection, schema: str) -> bool:
    """Whether an array baseline's items are, row for row, what the data makes of them now."""
    expected = sql.Identifier("bench_expected_items")
    items = sql.Identifier(schema, "items")
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(expected, items))
    try:
        conn.execute(
            sql.SQL(ITEMS_SQL).format(items=expected, numbers=sql.Identifier(schema, "tag_numbers"))
        )
        return conn.execute(
            sql.SQL(
                "SELECT NOT EXISTS (SELECT FROM ((TABLE {0} EXCEPT ALL TABLE {1})"
                " UNION ALL (TABLE {1} EXCEPT ALL TABLE {0})) AS difference)"
            ).format(items, expected)
        ).fetchone()[0]
    finally:
        conn.execute(sql.SQL("DROP TABLE {}").format(expected))


def _tag_index(baseline: ArrayBaseline) -> sql.Composable:
    items = sql.Identifier(baseline.schema, "items")
    extension_schema = sql.Identifier(baseline.extension_schema)
    if baseline.schema == RUM_SCHEMA:
        return sql.SQL(
            "CREATE INDEX items_tag_ids_rum ON {} USING rum"
            " (tag_ids {}.rum_anyarray_addon_ops, created_at)"
            " WITH (attach = 'created_at', to = 'tag_ids')"
        ).format(items, extension_schema)
    return sql.SQL(
        "CREATE INDEX items_tag_ids_gin ON {} USING gin (tag_ids {}.gin__int_ops)"
    ).format(items, extension_schema)


@dataclass
class BaselineBuild:
    schema: str
    rebuilt: bool
    seconds: dict[str, float]  # per build step, as measured when the schema was built
    sizes: dict[str, dict[str, object]] = field(default_factory=dict)


def _fingerprint(conn: psycopg.Connection) -> str:
    """What the schemas are built from: items, highest id, links (from fresh statistics)."""
    row = conn.execute(
        "SELECT count(*), max(id), (SELECT sum(cardinality) FROM tag_cardinality_stats)"
        " FROM content_items_all"
    ).fetchone()
    return "|".join(str(v) for v in row)


def _recorded(conn: psycopg.Connection, schema: str, fingerprint: str) -> dict[str, float] | None:
    """The build steps' times recorded in the schema, if it was built from this data."""
    if conn.execute("SELECT to_regclass(%s)", (f"{schema}.build_info",)).fetchone()[0] is None:
        return None
    row = conn.execute(
        sql.SQL("SELECT fingerprint, steps FROM {}").format(sql.Identifier(schema, "build_info"))
    ).fetchone()
    return dict(row[1]) if row and row[0] == fingerprint else None


def _build(conn: psycopg.Connection, schema: str, fingerprint: str) -> dict[str, float]:
    """Drop and rebuild one array baseline schema (autocommit connection); step times."""
    items = sql.Identifier(schema, "items")
    numbers = sql.Identifier(schema, "tag_numbers")
    seconds: dict[str, float] = {}

    def step(name: str, *statements: sql.Composable) -> None:
        started = time.perf_counter()
        for statement in statements:
            conn.execute(statement)
        seconds[name] = time.perf_counter() - started

    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA {}").format(
            sql.Identifier(EXTENSIONS[schema]), sql.Identifier(schema)
        )
    )
    step(
        "tag numbers",
        sql.SQL("CREATE TABLE {} (tag_id uuid PRIMARY KEY, tag_no integer NOT NULL UNIQUE)").format(
            numbers
        ),
        sql.SQL(
            "INSERT INTO {} SELECT id, row_number() OVER (ORDER BY id) FROM public.tags"
        ).format(numbers),
    )
    step(
        "items with tag arrays",
        sql.SQL(
            "CREATE TABLE {} (id bigint NOT NULL, source_type text NOT NULL,"
            " created_at timestamptz NOT NULL, creator_id bigint NOT NULL,"
            " is_private boolean NOT NULL, tag_ids integer[] NOT NULL)"
        ).format(items),
        sql.SQL(ITEMS_SQL).format(items=items, numbers=numbers),
    )
    step("primary key", sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(items))
    step(f"{EXTENSIONS[schema]} index", _tag_index(array_baseline(conn, schema)))
    step(
        "time index",
        sql.SQL("CREATE INDEX items_created_at_id ON {} (created_at DESC, id DESC)").format(items),
    )
    step(
        "creator index",
        sql.SQL(
            "CREATE INDEX items_creator_created_at_id ON {} (creator_id, created_at DESC, id DESC)"
        ).format(items),
    )
    step("vacuum analyze", sql.SQL("VACUUM (ANALYZE) {}").format(items))
    conn.execute("RESET maintenance_work_mem")
    info = sql.Identifier(schema, "build_info")
    conn.execute(
        sql.SQL("CREATE TABLE {} (fingerprint text NOT NULL, steps jsonb NOT NULL)").format(info)
    )
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(info),
        (fingerprint, Jsonb(list(seconds.items()))),  # pairs: the steps keep their order
    )
    return seconds


def relation_sizes(conn: psycopg.Connection, tables: Sequence[str]) -> dict[str, dict[str, object]]:
    """On-disk bytes of each table (heap with TOAST) and of each of its indexes."""
    sizes: dict[str, dict[str, object]] = {}
    for table in tables:
        heap, indexes = conn.execute(
            "SELECT pg_table_size(c.oid),"
            "       (SELECT jsonb_object_agg(x.indexrelid::regclass::text,"
            "                                pg_relation_size(x.indexrelid))"
            "          FROM pg_index x WHERE x.indrelid = c.oid)"
            "  FROM pg_class c WHERE c.oid = to_regclass(%s)",
            (table,),
        ).fetchone()
        sizes[table] = {"table": heap, "indexes": indexes or {}}
    return sizes


def ensure_baselines(
    conn: psycopg.Connection,
    *,
    rebuild: bool,
    schemas: Sequence[str] = (GIN_SCHEMA, RUM_SCHEMA),
) -> list[BaselineBuild]:
    """Build the array baselines (bench_gin, bench_rum, or those of schemas) unless they
    are already built from this data; rebuild: always. Each with its build times and sizes."""
    fingerprint = _fingerprint(conn)
    builds = []
    for schema in schemas:
        recorded = None if rebuild else _recorded(conn, schema, fingerprint)
        seconds = recorded if recorded is not None else _build(conn, schema, fingerprint)
        builds.append(
            BaselineBuild(
                schema,
                rebuilt=recorded is None,
                seconds=seconds,
                sizes=relation_sizes(conn, [f"{schema}.items", f"{schema}.tag_numbers"]),
            )
        )
    return builds


def own_sizes(conn: psycopg.Connection) -> dict[str, dict[str, object]]:
    """Sizes of the package's own tables, for comparison."""
    return relation_sizes(conn, [f"public.{t}" for t in OWN_TABLES])
