"""The bench runner: every query class through every approach, timed by the server.

Approaches: ``planner`` (gallery_page, the planner's pick), each of gallery_page's
strategies forced by name, and the four baselines of :mod:`bench.baselines`.
For each class and approach: a warm-up that fetches the page (its rows are
checked against the other approaches'), then N runs timed by the server:
planning + execution of ``EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)`` (per-node
timing off, so the instrumentation does not inflate large scans; the totals
are still measured). A statement past TIMEOUT_MS is cancelled and recorded as a
timeout; past SLOW_WARMUP_S of warm-up only SLOW_RUNS runs are taken.

Pages after the first are reached the way each approach pages: gallery_page
follows row cursors (walked once, with the planner's pick or, when a page of
that walk times out, with the next strategy; every gallery_page approach then
reads the target page from that cursor, as any gallery_page call may),
after/gin/rum follow their own keyset from their own previous page, before
jumps with OFFSET.

gallery_page is called as a prepared statement (as psycopg calls a query it has
run five times): planned once per session, like the bare query below.

gallery_page's overhead: with gallery_page (the planner's pick) on a class,
in turns with it, the query it runs for that page, bare: its strategy's function
(``_gallery_<strategy>``, an SQL function PostgreSQL inlines) PREPAREd with the
parameter types gallery_page passes (match and direction as constants, as in gallery_page's
statement for them) and EXECUTEd with the values
``_gallery_request`` returns for the same arguments, in a transaction with
gallery_page's settings (``_gallery_apply_settings``: its SET clauses, among them
a generic plan made once, and work_mem); timed and checked like the rest. The
overhead is gallery_page's median minus the bare query's: the checks, the
planner, the page's sort and its cursors (the strategy reads the item rows).

Also measured: an insert of one item with INSERT_TAGS tags through the parent
(rows deleted afterwards), gallery_stats_refresh(), gallery_plan alone (the
planner's overhead), and pydeploy apply (a no-op on the data database, a full
deploy on a fresh one).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from rich.console import Console
from rich.progress import Progress

from bench import baselines
from bench.baselines import Keyset, Query
from bench.workload import PAGE_SIZE, QueryClass, choose_classes
from pydeploy import api, catalogue

PLANNER = "planner"
BARE = "planner's SQL, bare"
# the arguments of a strategy's function (_gallery_<strategy>), typed as gallery_page passes them
STRATEGY_PARAMETER_TYPES = (
    "uuid[]",  # tags, rarest first
    "integer[]",  # the tags' numbers
    "text",  # match
    "text[]",  # source types in scope
    "text[]",  # ... whose viewer's own items are
    "text[]",  # ... whose other creators' public items are
    "bigint",  # viewer_id
    "timestamptz",  # the cursor's created_at (or the first page's sentinel)
    "bigint",  # the cursor's id
    "boolean",  # has a cursor
    "boolean",  # direction next
    "integer",  # rows to read: page size + 1
)
# match and direction next: constants in gallery_page's statements (one per strategy, match
# and direction, each plan keeping that match's and direction's branches only), so here too
STRATEGY_CONSTANT_PARAMETERS = (2, 10)
BARE_STATEMENT = "gallery_bare"

TIMEOUT_MS = 10_000
SLOW_WARMUP_S = 1.0
SLOW_RUNS = 3
INSERT_TAGS = 75
INSERT_RUNS = 20
STATS_REFRESH_RUNS = 3

Row = tuple[Any, ...]  # id, source_type, created_at[, row_cursor]


def approaches() -> list[str]:
    """Every approach, in report order: the planner, every strategy of the catalogue
    (gallery._gallery_strategies(), forced by name), the baselines."""
    strategies = [s.strategy for s in catalogue.read_strategies()]
    return [PLANNER, *strategies, *baselines.BASELINES]


def class_approaches(qc: QueryClass) -> list[str]:
    """The approaches that apply to a class: the strategies the catalogue says serve its
    match (without tags, those that need none)."""
    forced = catalogue.strategies_for(qc.match, tags=bool(qc.tags))
    return [PLANNER, *forced, *baselines.BASELINES]


# ---------------------------------------------------------------------------- timing


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics; a timeout counts as infinity."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low if low == high else low + (high - low) * (position - math.floor(position))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Measurement:
    """One approach on one class: warm-up, timed runs (None = timeout), the page's keys."""

    status: str = "ok"  # ok | timeout | error
    warmup_ms: float | None = None
    runs_ms: list[float | None] = field(default_factory=list)
    rows: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None

    def _stat(self, q: float) -> float | None:
        if self.status != "ok" or not self.runs_ms:
            return None
        return _finite(_quantile([math.inf if r is None else r for r in self.runs_ms], q))

    @property
    def median_ms(self) -> float | None:
        return self._stat(0.5)

    @property
    def p95_ms(self) -> float | None:
        return self._stat(0.95)

    @property
    def max_ms(self) -> float | None:
        return self._stat(1.0)

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "rows": [list(r) for r in self.rows],
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "max_ms": self.max_ms,
        }


def _server_ms(conn: psycopg.Connection, query: Query) -> float | None:
    """Planning + execution time of one statement as the server measured it; None
    when cancelled by the statement timeout."""
    statement, params = query
    try:
        plan = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {}").format(statement), params
        ).fetchone()[0][0]
    except psycopg.errors.QueryCanceled:
        return None
    return float(plan["Planning Time"]) + float(plan["Execution Time"])


def _median_server_ms(conn: psycopg.Connection, query: Query, runs: int) -> float | None:
    times = [_server_ms(conn, query) for _ in range(runs)]
    return _finite(_quantile([math.inf if t is None else t for t in times], 0.5))


@contextmanager
def _statement_timeout(conn: psycopg.Connection, ms: int) -> Iterator[None]:
    conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(ms)))
    try:
        yield
    finally:
        conn.execute("RESET statement_timeout")


# ---------------------------------------------------------------------------- approaches


# gallery_page's call as a client's prepared statement (psycopg prepares a query it has run
# five times): planned once per session, like the bare query it is compared with.
GALLERY_PAGE_STATEMENT = sql.Identifier("bench_gallery_page")


def prepare_gallery_page(conn: psycopg.Connection) -> None:
    """PREPARE the statement gallery_page_query executes, on this connection."""
    conn.execute(
        sql.SQL(
            "PREPARE {} ({}) AS SELECT id, source_type, created_at, row_cursor"
            " FROM gallery.gallery_page($1, $2, $3, $4, $5, $6, $7, $8)"
        ).format(
            GALLERY_PAGE_STATEMENT,
            sql.SQL(", ").join(sql.SQL(type_) for _, type_ in GALLERY_PAGE_ARGUMENTS),
        )
    )


def _gallery_page_arguments(
    qc: QueryClass, cursor: str | None, strategy: str | None
) -> dict[str, object]:
    return {
        "tags": list(qc.tags) or None,
        "cursor": cursor,
        "page_size": PAGE_SIZE,
        "match": qc.match,
        "sources": list(qc.sources),
        "viewer": qc.viewer_id,
        "strategy": strategy,
    }


# gallery_page's arguments in order, with their types ('next': the direction)
GALLERY_PAGE_ARGUMENTS = (
    ("tags", "uuid[]"),
    ("cursor", "text"),
    ("page_size", "integer"),
    ("match", "text"),
    ("sources", "text[]"),
    ("viewer", "bigint"),
    ("direction", "text"),
    ("strategy", "text"),
)


def gallery_page_query(qc: QueryClass, cursor: str | None, strategy: str | None) -> Query:
    """One page through gallery_page (prepare_gallery_page first, on the connection); the
    values as typed literals: EXECUTE's arguments cannot be parameters of the statement."""
    values = _gallery_page_arguments(qc, cursor, strategy) | {"direction": "next"}
    arguments = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Literal(values[name]), sql.SQL(type_))
        for name, type_ in GALLERY_PAGE_ARGUMENTS
    )
    return sql.SQL("EXECUTE {}({})").format(GALLERY_PAGE_STATEMENT, arguments), {}


@dataclass
class Pager:
    """How an approach reads a page at a position, and where the next page starts.
    A pager with ``seek`` jumps to a page number instead of walking."""

    query: Callable[[object], Query]
    advance: Callable[[list[Row]], object] = lambda rows: None
    seek: Callable[[int], object] | None = None


def _keyset(rows: list[Row]) -> Keyset:
    return rows[-1][2], rows[-1][0]


def _pagers(conn: psycopg.Connection, qc: QueryClass, rum_anchor: datetime) -> dict[str, Pager]:
    gin = baselines.array_baseline(conn, baselines.GIN_SCHEMA)
    rum = baselines.array_baseline(conn, baselines.RUM_SCHEMA)
    gin_nos = gin.tag_numbers(conn, qc.tags)
    rum_nos = rum.tag_numbers(conn, qc.tags)

    def gallery(strategy: str | None) -> Pager:
        return Pager(lambda cursor: gallery_page_query(qc, cursor, strategy), lambda r: r[-1][3])

    pagers = {
        name: gallery(None if name == PLANNER else name)
        for name in class_approaches(qc)
        if name not in baselines.BASELINES
    }
    pagers["before"] = Pager(lambda page: baselines.before_query(qc, page), seek=lambda p: p)
    pagers["after"] = Pager(lambda keyset: baselines.after_query(qc, keyset), _keyset)
    pagers["gin"] = Pager(lambda keyset: baselines.gin_query(gin, qc, keyset, gin_nos), _keyset)
    pagers["rum"] = Pager(
        lambda keyset: baselines.rum_query(
            rum, qc, keyset, rum_nos, rum_anchor if keyset is None else keyset[0]
        ),
        _keyset,
    )
    return pagers


class PagingTimeout(Exception):
    """A page before the measured one was cancelled by the statement timeout."""


def _position(conn: psycopg.Connection, pager: Pager, page: int) -> object:
    """Where the pager's page number ``page`` starts (walking the pages before it)."""
    if pager.seek is not None:
        return pager.seek(page)
    position: object = None
    for _ in range(page - 1):
        statement, params = pager.query(position)
        try:
            rows = conn.execute(statement, params).fetchall()
        except psycopg.errors.QueryCanceled as exc:
            raise PagingTimeout from exc
        if rows:  # past the last page every page is empty: stay there
            position = pager.advance(rows)
    return position


Within = Callable[[], AbstractContextManager[object]]
"""A context each statement of a measurement runs in (settings, a transaction)."""


def _measure_in_turns(
    conn: psycopg.Connection, measured: Sequence[tuple[Query, Within]], runs: int
) -> list[Measurement]:
    """Each query's warm-up (its rows kept), then the timed runs in turns (run 1 of
    each, run 2 of each, ...: a change of load on the machine hits all of them alike),
    each statement inside its within()."""
    warmups: list[tuple[float, list[Row]] | None] = []
    for (statement, params), within in measured:
        started = time.perf_counter()
        try:
            with within():
                rows = conn.execute(statement, params).fetchall()
        except psycopg.errors.QueryCanceled:
            warmups.append(None)
            continue
        warmups.append((time.perf_counter() - started, rows))
    taken = [
        0 if w is None else min(runs, SLOW_RUNS) if w[0] > SLOW_WARMUP_S else runs for w in warmups
    ]
    times: list[list[float | None]] = [[] for _ in measured]
    for run in range(max(taken, default=0)):
        for n, (query, within) in enumerate(measured):
            if run < taken[n]:
                with within():
                    times[n].append(_server_ms(conn, query))
    return [
        Measurement(status="timeout")
        if w is None
        else Measurement(warmup_ms=w[0] * 1000, runs_ms=t, rows=[(r[1], int(r[0])) for r in w[1]])
        for w, t in zip(warmups, times, strict=True)
    ]


def _measure(conn: psycopg.Connection, query: Query, runs: int) -> Measurement:
    return _measure_in_turns(conn, [(query, nullcontext)], runs)[0]


# What gallery_page runs for a page: its strategy, work_mem, and the strategy function's
# arguments (_gallery_request's values, passed as gallery_page passes them).
STRATEGY_SQL = """
SELECT r.strategy, r.max_work_mem_mb,
       r.tags, r.tag_nos, %(match)s::text, r.types, r.own, r.others, %(viewer)s::bigint,
       r.after_created_at::text, r.after_id, r.has_cursor, r.forward, %(page_size)s::integer + 1
  FROM gallery._gallery_request(%(tags)s::uuid[], %(cursor)s::text, %(page_size)s::integer,
                        %(match)s::text, %(sources)s::text[], %(viewer)s::bigint, 'next',
                        %(strategy)s::text) AS r
"""


@dataclass(frozen=True)
class BareQuery:
    """The SQL of gallery_page's pick for one page, prepared: its EXECUTE, and what
    _gallery_apply_settings needs."""

    strategy: str
    work_mem_mb: int
    query: Query


@contextmanager
def _prepared_bare(
    conn: psycopg.Connection, qc: QueryClass, cursor: str | None
) -> Iterator[BareQuery]:
    """PREPARE the SQL gallery_page runs for this page (planner's pick), typed as
    gallery_page passes its parameters; DEALLOCATE it after."""
    params = _gallery_page_arguments(qc, cursor, None)
    strategy, work_mem_mb, *values = conn.execute(STRATEGY_SQL, params).fetchone()
    name = sql.Identifier(BARE_STATEMENT)
    types = [sql.SQL(t) for t in STRATEGY_PARAMETER_TYPES]
    # the values as typed literals: EXECUTE's arguments cannot be untyped parameters (NULL)
    literals = [
        sql.SQL("{}::{}").format(sql.Literal(v), t) for v, t in zip(values, types, strict=True)
    ]
    conn.execute(
        # the page_size + 1 item rows gallery_page reads, of which the page is the first page_size
        sql.SQL("PREPARE {} ({}) AS SELECT * FROM gallery.{}({}) LIMIT $12 - 1").format(
            name,
            sql.SQL(", ").join(types),
            sql.Identifier(f"_gallery_{strategy}"),
            sql.SQL(", ").join(
                literals[n] if n in STRATEGY_CONSTANT_PARAMETERS else sql.SQL(f"${n + 1}")
                for n in range(len(types))
            ),
        )
    )
    arguments = sql.SQL(", ").join(literals)
    try:
        yield BareQuery(
            strategy, work_mem_mb, (sql.SQL("EXECUTE {} ({})").format(name, arguments), {})
        )
    finally:
        conn.execute(sql.SQL("DEALLOCATE {}").format(name))


@contextmanager
def _gallery_page_settings(conn: psycopg.Connection, bare: BareQuery) -> Iterator[None]:
    """A transaction (rolled back) with the settings gallery_page runs its query with
    (_gallery_apply_settings: its SET clauses, a generic plan made once among them, and
    work_mem)."""
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT gallery._gallery_apply_settings(%s)", (bare.work_mem_mb,))
        yield


@contextmanager
def plan_memo_off(conn: psycopg.Connection) -> Iterator[None]:
    """Every call as a filter's first: gallery_page planning afresh, gallery_count
    estimating afresh (the plan and count memos, docs/planner.md, off); the knob restored
    after."""
    cur = conn.cursor(row_factory=tuple_row)  # whatever rows the caller's connection makes
    (entries,) = cur.execute("SELECT plan_memo_entries FROM gallery_config").fetchone()
    conn.execute("UPDATE gallery_config SET plan_memo_entries = 0")
    try:
        yield
    finally:
        conn.execute("UPDATE gallery_config SET plan_memo_entries = %s", (entries,))


def _measure_with_bare(
    conn: psycopg.Connection, qc: QueryClass, cursor: str | None, runs: int
) -> tuple[Measurement, Measurement]:
    """gallery_page (the planner's pick) on this page and the SQL it runs, bare (see the
    module doc), timed in turns; the bare SQL's error alone when it cannot be prepared."""
    page = gallery_page_query(qc, cursor, None)
    try:
        with _prepared_bare(conn, qc, cursor) as bare:
            planner, bare_sql = _measure_in_turns(
                conn,
                [(page, nullcontext), (bare.query, lambda: _gallery_page_settings(conn, bare))],
                runs,
            )
            return planner, bare_sql
    except psycopg.Error as exc:
        failed = Measurement(status="error", error=str(exc).strip())
    return _measure(conn, page, runs), failed


def _median_minus(a: Measurement | None, b: Measurement | None) -> float | None:
    x = None if a is None else a.median_ms
    y = None if b is None else b.median_ms
    return None if x is None or y is None else x - y


@dataclass
class ClassResult:
    query_class: QueryClass
    pick: str
    plan_ms: float | None
    results: dict[str, Measurement]
    bare: Measurement | None = None  # the planner's SQL, bare (None: gallery_page failed)
    unmemoised: Measurement | None = None  # gallery_page with the plan memo off

    @property
    def overhead_ms(self) -> float | None:
        """gallery_page's median minus its SQL's, bare."""
        return _median_minus(self.results[PLANNER], self.bare)

    @property
    def unmemoised_overhead_ms(self) -> float | None:
        """The same with the plan memo off."""
        return _median_minus(self.unmemoised, self.bare)

    def as_dict(self) -> dict[str, object]:
        qc = self.query_class
        return {
            "label": qc.label,
            "why": qc.why,
            "tags": [str(t) for t in qc.tags],
            "match": qc.match,
            "sources": list(qc.sources),
            "viewer_id": qc.viewer_id,
            "page": qc.page,
            "pick": self.pick,
            "plan_ms": self.plan_ms,
            "results": {name: m.as_dict() for name, m in self.results.items()},
            "bare": None if self.bare is None else self.bare.as_dict(),
            "overhead_ms": self.overhead_ms,
            "plan_memo_off": None if self.unmemoised is None else self.unmemoised.as_dict(),
            "plan_memo_off_overhead_ms": self.unmemoised_overhead_ms,
        }


def _plan_query(qc: QueryClass) -> Query:
    return sql.SQL(
        "SELECT * FROM gallery.gallery_plan(%(tags)s::uuid[], %(match)s::text, %(sources)s::text[],"
        " %(viewer)s::bigint, %(page_size)s::integer)"
    ), {
        "tags": list(qc.tags) or None,
        "match": qc.match,
        "sources": list(qc.sources),
        "viewer": qc.viewer_id,
        "page_size": PAGE_SIZE,
    }


def measure_class(
    conn: psycopg.Connection,
    qc: QueryClass,
    runs: int,
    rum_anchor: datetime,
    step: Callable[[str], None],
) -> ClassResult:
    """Every applicable approach on one class; the gallery_page approaches share one
    walk of cursors to the target page (see the module doc)."""
    statement, params = _plan_query(qc)
    pick = conn.execute(
        sql.SQL("SELECT strategy FROM ({}) AS p").format(statement), params
    ).fetchone()[0]
    plan_ms = _median_server_ms(conn, _plan_query(qc), runs)
    pagers = _pagers(conn, qc, rum_anchor)
    results: dict[str, Measurement] = {}
    bare = unmemoised = None
    cursor: list[object] = []  # the gallery_page cursor to the page, once one walk reached it
    for name, pager in pagers.items():
        step(f"{qc.label}: {name}")
        gallery = name not in baselines.BASELINES
        try:
            if gallery and cursor:
                position = cursor[0]
            else:
                position = _position(conn, pager, qc.page)
                if gallery:
                    cursor.append(position)
            if name == PLANNER:
                results[name], bare = _measure_with_bare(conn, qc, cast(str | None, position), runs)
                with plan_memo_off(conn):
                    unmemoised = _measure(conn, pager.query(position), runs)
            else:
                results[name] = _measure(conn, pager.query(position), runs)
        except PagingTimeout:
            results[name] = Measurement(status="timeout", error="a page before it timed out")
        except psycopg.Error as exc:
            results[name] = Measurement(status="error", error=str(exc).strip())
    return ClassResult(qc, pick, plan_ms, results, bare, unmemoised)


def _with_bare(result: ClassResult) -> dict[str, Measurement]:
    """The class's measurements, the planner's SQL run bare included."""
    return result.results | ({} if result.bare is None else {BARE: result.bare})


def mismatches(result: ClassResult) -> list[dict[str, object]]:
    """Approaches whose page differs from the planner's (or the first answered one's)."""
    answered = {n: m for n, m in _with_bare(result).items() if m.status == "ok"}
    if not answered:
        return []
    reference = PLANNER if PLANNER in answered else next(iter(answered))
    expected = answered[reference].rows
    return [
        {
            "class": result.query_class.label,
            "approach": name,
            "reference": reference,
            "expected": [list(r) for r in expected],
            "got": [list(r) for r in m.rows],
        }
        for name, m in answered.items()
        if m.rows != expected
    ]


# ---------------------------------------------------------------------------- the rest


def measure_insert(conn: psycopg.Connection, viewer: int, runs: int = INSERT_RUNS) -> dict:
    """One item with INSERT_TAGS tags through content_items_all and its content_tags
    rows, in one transaction (all triggers included); the items are deleted after.
    server: the two statements as the server timed them; at_commit: the item's tag_nos
    written from the queued links (content_tags_apply_tag_nos, deferred to the commit),
    fired early by SET CONSTRAINTS and timed from the client (one round trip included)."""
    tags = [r[0] for r in conn.execute("SELECT id FROM tags ORDER BY id LIMIT %s", (INSERT_TAGS,))]
    item = sql.SQL(
        "INSERT INTO content_items_all (id, title, content_type, creator_id, source_type,"
        " is_private, created_at) VALUES (%(id)s, 'bench insert', 'image', %(viewer)s,"
        " 'items', false, now())"
    )
    links = sql.SQL(
        "INSERT INTO content_tags (content_id, content_source, tag_id)"
        " SELECT %(id)s, 'items', t FROM unnest(%(tags)s::uuid[]) AS t"
    )
    server, at_commit, wall, ids = [], [], [], []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            with conn.transaction():
                (item_id,) = conn.execute(
                    "SELECT nextval(pg_get_serial_sequence('content_items_all', 'id'))"
                ).fetchone()
                ids.append(item_id)
                params = {"id": item_id, "viewer": viewer, "tags": tags}
                times = [_server_ms(conn, (item, params)), _server_ms(conn, (links, params))]
                applied = time.perf_counter()
                conn.execute("SET CONSTRAINTS public.content_tags_tag_nos_at_commit IMMEDIATE")
                at_commit.append((time.perf_counter() - applied) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
            server.append(sum(t for t in times if t is not None))
    finally:
        conn.execute(
            "DELETE FROM content_items_all WHERE source_type = 'items' AND id = ANY (%s)", (ids,)
        )
    return {
        "tags": len(tags),
        "runs": runs,
        "server_median_ms": _quantile(server, 0.5),
        "at_commit_median_ms": _quantile(at_commit, 0.5),
        "transaction_median_ms": _quantile(wall, 0.5),
    }


def measure_stats_refresh(conn: psycopg.Connection, runs: int = STATS_REFRESH_RUNS) -> dict:
    """The refresh's own timing; a run that found another refresh holding the lock
    (refreshed = false, no work done) is an error, not a fast run."""
    seconds = []
    for _ in range(runs):
        refreshed, elapsed = conn.execute(
            "SELECT refreshed, seconds FROM gallery.gallery_stats_refresh()"
        ).fetchone()
        if not refreshed:
            raise RuntimeError("gallery_stats_refresh() did not run: another one holds its lock")
        seconds.append(elapsed * 1000)
    return {"runs": runs, "median_ms": statistics.median(seconds)}


def measure_deploy(dsn: str) -> dict[str, object]:
    """pydeploy apply: a no-op on the data database (skipped when it would change
    something: the bench never deploys to its data), a full deploy on a fresh one."""
    result: dict[str, object] = {}
    pending = api.apply(dsn, dry_run=True)
    if pending.changed:
        result["noop_s"] = None
        result["noop_skipped"] = "the database is not in sync with the package's SQL"
    else:
        started = time.perf_counter()
        api.apply(dsn)
        result["noop_s"] = time.perf_counter() - started
    database = f"runner_deploy_{os.getpid()}"
    name = sql.Identifier(database)
    fresh = psycopg.conninfo.make_conninfo(dsn, dbname=database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        started = time.perf_counter()
        api.apply(fresh)
        result["fresh_s"] = time.perf_counter() - started
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
    return result


def machine_info(conn: psycopg.Connection) -> dict[str, object]:
    settings = conn.execute(
        "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY (%s)",
        (
            [
                "shared_buffers",
                "work_mem",
                "effective_cache_size",
                "jit",
                "max_parallel_workers_per_gather",
                "random_page_cost",
            ],
        ),
    ).fetchall()
    return {
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),  # 1, 5, 15 min, when the measurements end
        "ram_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": conn.execute("SELECT version()").fetchone()[0],
        "settings": dict(settings),
    }


def data_info(conn: psycopg.Connection) -> dict[str, object]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM content_items),"
        "       (SELECT count(*) FROM content_items_auto),"
        "       (SELECT sum(cardinality) FROM tag_cardinality_stats),"
        "       (SELECT count(*) FROM tags), (SELECT count(*) FROM users),"
        "       pg_database_size(current_database()), current_database()"
    ).fetchone()
    keys = ("items", "auto_items", "links", "tags", "users", "database_bytes", "database")
    return dict(zip(keys, row, strict=True))


@dataclass
class Report:
    label: str
    command: str
    date: str
    seed: int
    runs: int
    machine: dict[str, object]
    data: dict[str, object]
    classes: list[ClassResult]
    baselines: list[baselines.BaselineBuild]
    own_sizes: dict[str, dict[str, object]]
    insert: dict[str, object]
    stats_refresh: dict[str, object]
    deploy: dict[str, object]

    @property
    def mismatches(self) -> list[dict[str, object]]:
        return [m for c in self.classes for m in mismatches(c)]

    @property
    def errors(self) -> list[dict[str, object]]:
        return [
            {"class": c.query_class.label, "approach": name, "error": m.error}
            for c in self.classes
            for name, m in _with_bare(c).items()
            if m.status == "error"
        ]

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "command": self.command,
            "date": self.date,
            "seed": self.seed,
            "runs": self.runs,
            "page_size": PAGE_SIZE,
            "timeout_ms": TIMEOUT_MS,
            "machine": self.machine,
            "data": self.data,
            "approaches": approaches(),
            "classes": [c.as_dict() for c in self.classes],
            "mismatches": self.mismatches,
            "errors": self.errors,
            "baselines": [asdict(b) for b in self.baselines],
            "own_sizes": self.own_sizes,
            "insert": self.insert,
            "stats_refresh": self.stats_refresh,
            "deploy": self.deploy,
        }


def run(
    dsn: str, *, label: str, runs: int, seed: int, rebuild_baselines: bool, command: str
) -> Report:
    """The whole bench on the database at dsn (the package applied, with data)."""
    console = Console(stderr=True)
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SET application_name = 'bench run'")
        prepare_gallery_page(conn)
        console.log("gallery_stats_refresh()")
        stats_refresh = measure_stats_refresh(conn)
        classes = choose_classes(conn, seed)
        console.log("baselines: bench_gin, bench_rum")
        builds = baselines.ensure_baselines(conn, rebuild=rebuild_baselines)
        rum_anchor = baselines.rum_first_anchor(conn)
        results = []
        total = sum(len(class_approaches(qc)) for qc in classes)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("classes", total=total)

            def step(description: str) -> None:
                progress.update(task, advance=1, description=description)

            with _statement_timeout(conn, TIMEOUT_MS):
                results = [measure_class(conn, qc, runs, rum_anchor, step) for qc in classes]
        console.log("insert, deploy")
        insert = measure_insert(conn, classes[0].viewer_id)
        report = Report(
            label=label,
            command=command,
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            seed=seed,
            runs=runs,
            machine=machine_info(conn),
            data=data_info(conn),
            classes=results,
            baselines=builds,
            own_sizes=baselines.own_sizes(conn),
            insert=insert,
            stats_refresh=stats_refresh,
            deploy={},
        )
    report.deploy = measure_deploy(dsn)
    return report


# ---------------------------------------------------------------------------- outputs


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _cell(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if m.status == "error":
        return "error"
    if m.status == "timeout" or m.median_ms is None:
        return "timeout"
    return f"{_ms(m.median_ms)} / {'timeout' if m.p95_ms is None else _ms(m.p95_ms)}"


def _ratio(value: float | None, best: float | None) -> str:
    if value is None or not best:
        return "-"
    return f"{value / best:.2f}x" if value < 100 * best else f"{value / best:,.0f}x"


def _fastest(result: ClassResult, names: Sequence[str]) -> tuple[str, Measurement] | None:
    """The approach among names with the lowest median, and its measurement."""
    answered = [(n, m) for n, m in result.results.items() if n in names and m.median_ms is not None]
    return min(answered, key=lambda a: a[1].median_ms or 0.0, default=None)


def _best(result: ClassResult, names: Sequence[str]) -> float | None:
    fastest = _fastest(result, names)
    return None if fastest is None else fastest[1].median_ms


def _size(n: object) -> str:
    value = float(n or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError


def _overhead_lines(report: Report) -> list[str]:
    """Per class: gallery_page, the best baseline, the planner's SQL run bare, and the
    overhead (gallery_page's median minus the bare SQL's)."""
    lines = [
        "",
        "## gallery_page's overhead",
        "",
        "The planner's pick run bare, in turns with gallery_page: the SQL "
        "function `_gallery_<strategy>` for the page, with the parameter values "
        "`_gallery_request` gives gallery_page, gallery_page's settings and its generic plan "
        "(see bench/run.py). overhead = gallery_page's median minus the bare query's: "
        "argument checks, the planner (gallery_plan alone: last column), the page's sort "
        "and its cursors (the strategy reads the item rows itself). gallery_page runs with "
        "its plan memo (docs/planner.md): after the warm-up, each call uses the plan kept "
        "for the class's arguments; plan memo off = every call planned afresh, as a "
        "filter's first call is (measured after the others). ms, median / p95.",
        "",
        "| class | pick | gallery_page | best baseline | pick / best baseline "
        "| pick's SQL, bare | overhead | gallery_plan alone | plan memo off (its overhead) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report.classes:
        planner = c.results[PLANNER]
        best = _fastest(c, baselines.BASELINES)
        best_cell = "-" if best is None else f"{_cell(best[1])} ({best[0]})"
        lines.append(
            f"| {c.query_class.label} | {c.pick} | {_cell(planner)} | {best_cell} "
            f"| {_ratio(planner.median_ms, None if best is None else best[1].median_ms)} "
            f"| {_cell(c.bare)} | {_ms(c.overhead_ms)} | {_ms(c.plan_ms)} "
            f"| {_cell(c.unmemoised)} ({_ms(c.unmemoised_overhead_ms)}) |"
        )
    return lines


def markdown(report: Report) -> str:
    names = approaches()
    strategies = [n for n in names if n != PLANNER and n not in baselines.BASELINES]
    machine, data = report.machine, report.data
    load = ", ".join(f"{v:.1f}" for v in machine["load_average"])  # type: ignore[attr-defined]
    lines = [
        f"# Bench run: {report.label}",
        "",
        f"`{report.command}` on {report.date}: {machine['cores']} cores, "
        f"{int(machine['ram_bytes']) / 2**30:.0f} GiB RAM, "
        f"{str(machine['postgresql']).split(' on ')[0]}; "
        f"load average {load} (1, 5, 15 min) at the end; "
        f"{data['items']:,} items + {data['auto_items']:,} auto items, "
        f"{int(data['links'] or 0):,} links, {data['tags']:,} tags, {data['users']:,} users.",
        "",
        f"Server time of one page of {PAGE_SIZE} (planning + execution), ms, median / p95 of "
        f"{report.runs} runs after a warm-up ({SLOW_RUNS} runs when the warm-up took over "
        f"{SLOW_WARMUP_S:.0f} s); timeout: over {TIMEOUT_MS / 1000:.0f} s; -: not applicable. "
        "planner = gallery_page's own pick; strategy columns = gallery_page with that strategy "
        "forced; pick / best: the planner's median over the best forced strategy's and the "
        "best baseline's.",
        "",
        "| class | " + " | ".join(names) + " | pick | pick / best forced | pick / best baseline |",
        "|---" * (len(names) + 4) + "|",
    ]
    for c in report.classes:
        planner = c.results[PLANNER].median_ms
        lines.append(
            f"| {c.query_class.label} | "
            + " | ".join(_cell(c.results.get(n)) for n in names)
            + f" | {c.pick} | {_ratio(planner, _best(c, strategies))}"
            f" | {_ratio(planner, _best(c, baselines.BASELINES))} |"
        )
    lines += _overhead_lines(report)
    chosen = [c.query_class for c in report.classes if c.query_class.why]
    lines += ["", "## Classes chosen from the data", ""]
    lines += [f"- **{qc.label}**: {qc.why}" for qc in chosen]
    problems = report.mismatches
    lines += ["", "## Result equality", ""]
    if problems:
        lines += [
            f"- **{m['class']}: {m['approach']}** differs from {m['reference']}" for m in problems
        ]
    else:
        lines.append("Every approach returned the same page (source_type, id, in order) per class.")
    lines += [  # the first line of the message; all of it is in the JSON
        f"- **{e['class']}: {e['approach']}** failed: {str(e['error']).splitlines()[0]}"
        for e in report.errors
    ]
    deploy = report.deploy
    lines += [
        "",
        "## Also measured",
        "",
        "| what | ms |",
        "|---|---|",
        f"| insert of one item with {report.insert['tags']} tags through content_items_all "
        f"+ its content_tags rows, server (median of {report.insert['runs']}) "
        f"| {_ms(report.insert['server_median_ms'])} |",
        f"| the same: its tag_nos written at commit from the queued links, from the client "
        f"| {_ms(report.insert['at_commit_median_ms'])} |",
        f"| the same, whole transaction from the client, commit included "
        f"| {_ms(report.insert['transaction_median_ms'])} |",
        f"| gallery_stats_refresh() (median of {report.stats_refresh['runs']}) "
        f"| {_ms(report.stats_refresh['median_ms'])} |",
        "| pydeploy apply, no-op on the data database | "
        + (
            _ms(float(deploy["noop_s"]) * 1000)
            if deploy.get("noop_s") is not None
            else f"not measured: {deploy.get('noop_skipped')}"
        )
        + " |",
        f"| pydeploy apply on a fresh empty database | {_ms(float(deploy['fresh_s']) * 1000)} |",
        "",
        "## Baselines: build and size",
        "",
        "| baseline | step | s |",
        "|---|---|---|",
    ]
    for b in report.baselines:
        built = "" if b.rebuilt else " (built earlier from the same data)"
        lines += [f"| {b.schema}{built} | {s} | {sec:.1f} |" for s, sec in b.seconds.items()]
        lines.append(f"| {b.schema} | total | {sum(b.seconds.values()):.1f} |")
    lines += ["", "| relation | table | indexes | total |", "|---|---|---|---|"]
    sized = [*(b.sizes for b in report.baselines), report.own_sizes]
    for sizes in sized:
        for table, size in sizes.items():
            indexes: dict[str, int] = size["indexes"]  # type: ignore[assignment]
            listed = ", ".join(f"{n} {_size(v)}" for n, v in indexes.items())
            total = int(size["table"] or 0) + sum(indexes.values())
            lines.append(f"| {table} | {_size(size['table'])} | {listed} | {_size(total)} |")
    return "\n".join(lines) + "\n"


def chart(report: Report, path: Path) -> None:
    """Latency per class and approach, log scale; timeouts drawn at the timeout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = approaches()
    labels = [c.query_class.label for c in report.classes]
    figure, axes = plt.subplots(figsize=(max(10, 1.2 * len(labels)), 6))
    width = 0.8 / len(names)
    markers = "osD^v<>phX*"
    for n, name in enumerate(names):
        xs, ys, timeouts = [], [], []
        for x, c in enumerate(report.classes):
            m = c.results.get(name)
            if m is None or m.status == "error":
                continue
            offset = x - 0.4 + width * (n + 0.5)
            if m.median_ms is None:
                timeouts.append(offset)
            else:
                xs.append(offset)
                ys.append(m.median_ms)
        marker = markers[n % len(markers)]
        points = axes.scatter(xs, ys, label=name, marker=marker, s=28)
        axes.scatter(
            timeouts, [TIMEOUT_MS] * len(timeouts), marker="x", s=40, color=points.get_facecolor()
        )
    for x in range(1, len(labels)):
        axes.axvline(x - 0.5, color="0.85", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_ylabel("server ms per page (median; x = timeout)")
    axes.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    axes.grid(axis="y", which="both", alpha=0.3)
    axes.set_title(f"gallery_page and baselines: {report.label}")
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_outputs(report: Report, out: Path) -> dict[str, Path]:
    """<out>/<label>.json, .md and .png."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {suffix: out / f"{report.label}.{suffix}" for suffix in ("json", "md", "png")}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(report))
    chart(report, paths["png"])
    return paths
