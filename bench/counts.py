"""gallery_count's estimate against the exact count, and a gallery screen's calls, per query class.

For each class, CASES_PER_CLASS filters chosen from the data by seed (tags by
their exact counts in ``tag_cardinality_stats``, pairs by what a sample of items
has, viewers among the creators), each counted three ways:

* exactly: ``gallery_count(cap => 1000000)`` (the truth);
* ``gallery_count(mode => 'estimate')``: its estimate and ~95% interval
  (low..high), timed by the server (planning + execution of
  ``EXPLAIN (ANALYZE, TIMING OFF)``, the median of RUNS runs);
* independence, the product of marginals a planner assumes: the items in scope
  (the sources' partitions, times the share that is not private) times each
  tag's share of all items (all), or one minus the product of the shares
  missed (any).

Relative error = |estimate - exact| / max(exact, 1). The bound holds when
low <= exact <= high.

Each case also times, the same way, what a gallery screen calls for that
filter: the first page (``gallery_page``, PAGE_SIZE rows), the exact count
capped at 10,000, ``related_tags`` (the defaults: 20 tags from the newest
1,000 matches), and the first page of 2 x PAGE_SIZE rows. A page reads one
row past its end to set ``has_more``: that row costs at most what one more
row of the page costs (read, cursor signed, returned), which the two pages
measure: (long page - page) / PAGE_SIZE. A page of PAGE_SIZE - 1 rows would
be the direct comparison, but one row is within the noise of a single
timing. Refresh the statistics (``gallery_stats_refresh()``)
before running: the estimate is as of the last refresh.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from bench.run import plan_memo_off

ALL_SOURCES = ["user-regular", "user-auto", "community-regular", "community-auto"]
COMMUNITY = ["community-regular", "community-auto"]
OWN = ["user-regular", "user-auto"]
CASES_PER_CLASS = 40
RUNS = 5
POPULAR = 20  # "popular" tags: the most frequent 20
POOL = 200  # pairs and K tags are taken among the 200 most frequent tags
PAIR_SAMPLE = 20_000  # items whose tags decide which pairs are (anti-)correlated
PAGE_SIZE = 25
CAP = 10_000


@dataclass
class Case:
    label: str
    tags: list[uuid.UUID]
    match: str
    sources: list[str] | None
    viewer: int | None
    exact: int = 0
    estimate: int = 0
    low: int = 0
    high: int | None = None
    counted: bool = False  # the estimate mode counted (few matches)
    independence: float = 0.0
    ms: float = 0.0  # the estimate (repeated: kept in the count memo)
    unkept_ms: float = 0.0  # the estimate with the memo off, as on a filter's first call
    exact_ms: float = 0.0  # the exact count capped at CAP (repeated: kept in the count memo)
    exact_unkept_ms: float = 0.0  # the same with the memo off, as on a filter's first call
    page_ms: float = 0.0
    long_page_ms: float = 0.0  # 2 x PAGE_SIZE rows: what one row more costs
    related_ms: float = 0.0

    @property
    def filters(self) -> dict[str, object]:
        """FILTER's parameters."""
        return {
            "tags": self.tags,
            "match": self.match,
            "sources": self.sources,
            "viewer": self.viewer,
        }

    @property
    def error(self) -> float:
        return abs(self.estimate - self.exact) / max(self.exact, 1)

    @property
    def independence_error(self) -> float:
        return abs(self.independence - self.exact) / max(self.exact, 1)

    @property
    def bound_holds(self) -> bool:
        return self.low <= self.exact <= (self.high if self.high is not None else math.inf)


@dataclass
class ClassSummary:
    label: str
    cases: int
    counted: int
    median_error: float
    p95_error: float
    worst_error: float
    bound_held: float
    independence_median_error: float
    independence_p95_error: float
    independence_worst_error: float
    median_ms: float
    p95_ms: float
    max_ms: float
    unkept_ms: tuple[float, float]  # median, p95 over the cases
    median_exact: float
    exact_ms: tuple[float, float]  # median, p95 over the cases
    exact_unkept_ms: tuple[float, float]
    page_ms: tuple[float, float]
    related_ms: tuple[float, float]
    has_more_cost: float  # median of one row's cost / page
    page_and_estimate: float  # median of (page + estimate) / page
    page_and_unkept_estimate: float  # the same with the estimate not kept
    page_and_exact: float  # median of (page + exact count) / page
    page_and_unkept_exact: float  # the same with the count not kept


@dataclass
class CountReport:
    label: str
    command: str
    classes: list[ClassSummary] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "command": self.command,
            "classes": [asdict(c) for c in self.classes],
            "cases": [
                {
                    **asdict(c),
                    "tags": [str(t) for t in c.tags],
                    "error": c.error,
                    "bound_holds": c.bound_holds,
                }
                for c in self.cases
            ],
        }


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def _median_p95(values: Sequence[float]) -> tuple[float, float]:
    return statistics.median(values), _quantile(values, 0.95)


def _choose(conn: psycopg.Connection, seed: int) -> list[Case]:
    rnd = random.Random(seed)
    counts = conn.execute(
        "SELECT tag_id, sum(cardinality)::bigint AS n FROM tag_cardinality_stats"
        " GROUP BY 1 HAVING sum(cardinality) > 0 ORDER BY n DESC, tag_id"
    ).fetchall()
    tags = [r["tag_id"] for r in counts]
    pool = tags[:POOL]
    creators = [
        r["creator_id"]
        for r in conn.execute(
            "SELECT creator_id FROM content_items_all GROUP BY 1 ORDER BY count(*) DESC, 1"
        ).fetchall()
    ]
    ordinary = creators[len(creators) // 4 : 3 * len(creators) // 4] or creators
    # pairs of the pool with their lift, counted on a sample of items
    pairs = conn.execute(
        """
        WITH s AS MATERIALIZED (
            SELECT i.tag_nos FROM content_items_all i
             ORDER BY hashint8extended(i.id, %(seed)s) LIMIT %(sample)s),
             p AS (SELECT t.tag_no, t.id FROM tags t WHERE t.id = ANY (%(pool)s::uuid[])),
             f AS (SELECT p.id, p.tag_no, count(*) AS n
                     FROM p JOIN s ON s.tag_nos @> ARRAY[p.tag_no]
                    GROUP BY 1, 2),
             two AS (SELECT a.u AS a, b.u AS b, count(*) AS n
                       FROM s, unnest(s.tag_nos) a(u), unnest(s.tag_nos) b(u)
                      WHERE a.u < b.u AND a.u IN (SELECT tag_no FROM p)
                        AND b.u IN (SELECT tag_no FROM p)
                      GROUP BY 1, 2)
        SELECT fa.id AS a, fb.id AS b,
               coalesce(two.n, 0) * (SELECT count(*) FROM s)::float8 / (fa.n * fb.n) AS lift,
               fa.n * fb.n / (SELECT count(*) FROM s)::float8 AS expected
          FROM f fa JOIN f fb ON fa.tag_no < fb.tag_no
          LEFT JOIN two ON two.a = fa.tag_no AND two.b = fb.tag_no
         WHERE fa.n >= 20 AND fb.n >= 20
        """,
        {"seed": seed, "sample": PAIR_SAMPLE, "pool": pool},
    ).fetchall()
    correlated = sorted((p for p in pairs if p["lift"] >= 3), key=lambda p: -p["expected"])
    anti = sorted((p for p in pairs if p["lift"] <= 0.3), key=lambda p: -p["expected"])

    def scope(i: int) -> tuple[list[str] | None, int | None]:
        # alternately a signed-in ordinary viewer (all four sources) and anonymous
        return (ALL_SOURCES, rnd.choice(ordinary)) if i % 2 == 0 else (None, None)

    def item_tags(k: int, i: int) -> list[uuid.UUID] | None:
        row = conn.execute(
            """SELECT array_agg(t.id ORDER BY hashtextextended(t.id::text, %(seed)s)) AS tags
                 FROM (SELECT i.tag_nos FROM content_items_all i
                        WHERE NOT i.is_private AND cardinality(i.tag_nos) >= %(k)s
                        ORDER BY hashint8extended(i.id, %(seed)s) LIMIT 1 OFFSET %(i)s) AS x
                 JOIN tags t ON t.tag_no = ANY (x.tag_nos)
                WHERE t.id = ANY (%(pool)s::uuid[])""",
            {"seed": seed + k, "k": k, "i": i, "pool": pool},
        ).fetchone()
        got = row["tags"] if row else None
        return got[:k] if got and len(got) >= k else None

    cases: list[Case] = []
    n = CASES_PER_CLASS
    for i in range(n):
        s, v = scope(i)
        cases.append(Case("1 popular tag", [tags[i % POPULAR]], "all", s, v))
        mid = tags[POPULAR:POOL] or tags
        cases.append(Case("1 medium tag", [rnd.choice(mid)], "all", s, v))
        cases.append(Case("2 popular tags", rnd.sample(tags[: 2 * POPULAR], 2), "all", s, v))
        if correlated:
            p = correlated[i % len(correlated)]
            cases.append(Case("correlated pair (lift >= 3)", [p["a"], p["b"]], "all", s, v))
        if anti:
            p = anti[i % len(anti)]
            cases.append(Case("anti-correlated pair (lift <= 0.3)", [p["a"], p["b"]], "all", s, v))
        for k in (3, 5):
            kt = item_tags(k, i)
            if kt:
                cases.append(Case(f"K = {k} ALL (an item's tags)", kt, "all", s, v))
        cases.append(Case("ANY of 3", rnd.sample(pool, 3), "any", s, v))
        cases.append(Case("no tag filter", [], "all", s, v))
        cases.append(
            Case("viewer's own + popular tag", [tags[i % POPULAR]], "all", OWN, creators[i % 5])
        )
    return cases


def _independence(conn: psycopg.Connection, case: Case) -> float:
    row = conn.execute(
        """
        WITH n AS (SELECT count(*)::float8 AS total,
                          count(*) FILTER (WHERE NOT is_private)::float8 AS public,
                          count(*) FILTER (WHERE creator_id = %(viewer)s)::float8 AS own,
                          count(*) FILTER (WHERE creator_id = %(viewer)s AND NOT is_private)::float8
                              AS own_public
                     FROM content_items_all),
             p AS (SELECT sum(st.cardinality) / (SELECT total FROM n) AS share
                     FROM unnest(%(tags)s::uuid[]) AS u(tag)
                     LEFT JOIN tag_cardinality_stats st ON st.tag_id = u.tag
                    GROUP BY u.tag)
        SELECT CASE WHEN %(own_only)s THEN n.own
                    WHEN %(viewer)s::bigint IS NULL THEN n.public
                    ELSE n.public + n.own - n.own_public END
               * CASE WHEN NOT EXISTS (SELECT 1 FROM p) THEN 1
                      WHEN %(match)s = 'any'
                      THEN 1 - (SELECT exp(sum(ln(greatest(1 - coalesce(share, 0), 1e-12)))) FROM p)
                      ELSE (SELECT exp(sum(ln(greatest(coalesce(share, 0), 1e-12)))) FROM p) END
               AS estimate
          FROM n
        """,
        {
            "tags": case.tags,
            "match": case.match,
            "viewer": case.viewer,
            "own_only": case.sources == OWN,
        },
    ).fetchone()
    return float(row["estimate"])


FILTER = (
    "tags => %(tags)s::uuid[], match => %(match)s, sources => %(sources)s::text[],"
    " viewer_id => %(viewer)s"
)
COUNT = f"SELECT * FROM gallery.gallery_count({FILTER}, cap => %(cap)s, mode => %(mode)s)"
# the truth where gallery_count's largest cap (1,000,000) is not enough: the scope rule
# (docs/api.md) and the tags written out, every item read
COUNT_PAST_THE_CAP = """
SELECT count(*) AS n
  FROM content_items_all i,
       (SELECT ARRAY(SELECT tag_no FROM tags WHERE id = ANY (%(tags)s::uuid[])) AS nos) AS t
 WHERE ((i.creator_id = %(viewer)s
         AND format('user-%%s', CASE i.source_type WHEN 'items' THEN 'regular' ELSE 'auto' END)
             = ANY (%(sources)s::text[]))
     OR (i.creator_id IS DISTINCT FROM %(viewer)s AND NOT i.is_private
         AND format('community-%%s', CASE i.source_type WHEN 'items' THEN 'regular' ELSE 'auto' END)
             = ANY (%(sources)s::text[])))
   AND (cardinality(%(tags)s::uuid[]) = 0
     OR CASE %(match)s WHEN 'all' THEN i.tag_nos @> t.nos ELSE i.tag_nos && t.nos END)
"""
PAGE = f"SELECT * FROM gallery.gallery_page({FILTER}, page_size => %(page_size)s)"
RELATED = f"SELECT * FROM gallery.related_tags({FILTER})"


def _count_past_the_cap(conn: psycopg.Connection, case: Case) -> int:
    args = {
        "tags": case.tags,
        "match": case.match,
        "sources": case.sources or COMMUNITY,
        "viewer": case.viewer,
    }
    return int(conn.execute(COUNT_PAST_THE_CAP, args).fetchone()["n"])


def _server_ms(conn: psycopg.Connection, query: str, params: dict[str, object], runs: int) -> float:
    """The median over runs of planning + execution time, as the server measured it."""
    times = []
    for _ in range(runs):
        plan = conn.execute(
            "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + query, params
        ).fetchone()
        plan = plan["QUERY PLAN"][0]
        times.append(float(plan["Planning Time"]) + float(plan["Execution Time"]))
    return statistics.median(times)


def run(dsn: str, label: str, seed: int, command: str, runs: int = RUNS) -> CountReport:
    report = CountReport(label=label, command=command)
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        cases = _choose(conn, seed)
        for case in cases:
            args = case.filters
            exact = conn.execute(COUNT, {**args, "cap": 1_000_000, "mode": "exact"}).fetchone()
            case.exact = int(exact["items"]) if exact["exact"] else _count_past_the_cap(conn, case)
            estimate = {**args, "cap": CAP, "mode": "estimate"}
            est = conn.execute(COUNT, estimate).fetchone()
            case.estimate, case.low, case.high = int(est["items"]), int(est["low"]), est["high"]
            case.counted = bool(est["exact"])
            case.ms = _server_ms(conn, COUNT, estimate, runs)
            case.exact_ms = _server_ms(conn, COUNT, {**args, "cap": CAP, "mode": "exact"}, runs)
            case.page_ms = _server_ms(conn, PAGE, {**args, "page_size": PAGE_SIZE}, runs)
            case.long_page_ms = _server_ms(conn, PAGE, {**args, "page_size": 2 * PAGE_SIZE}, runs)
            case.related_ms = _server_ms(conn, RELATED, args, runs)
            case.independence = _independence(conn, case)
        with plan_memo_off(conn):
            for case in cases:
                args = {**case.filters, "cap": CAP}
                case.unkept_ms = _server_ms(conn, COUNT, {**args, "mode": "estimate"}, runs)
                case.exact_unkept_ms = _server_ms(conn, COUNT, {**args, "mode": "exact"}, runs)
        report.cases = cases
    for label_ in dict.fromkeys(c.label for c in cases):
        group = [c for c in cases if c.label == label_]
        errors = [c.error for c in group]
        ind = [c.independence_error for c in group]
        ms = [c.ms for c in group]
        report.classes.append(
            ClassSummary(
                label=label_,
                cases=len(group),
                counted=sum(c.counted for c in group),
                median_error=statistics.median(errors),
                p95_error=_quantile(errors, 0.95),
                worst_error=max(errors),
                bound_held=sum(c.bound_holds for c in group) / len(group),
                independence_median_error=statistics.median(ind),
                independence_p95_error=_quantile(ind, 0.95),
                independence_worst_error=max(ind),
                median_ms=statistics.median(ms),
                p95_ms=_quantile(ms, 0.95),
                max_ms=max(ms),
                unkept_ms=_median_p95([c.unkept_ms for c in group]),
                median_exact=statistics.median(c.exact for c in group),
                exact_ms=_median_p95([c.exact_ms for c in group]),
                exact_unkept_ms=_median_p95([c.exact_unkept_ms for c in group]),
                page_ms=_median_p95([c.page_ms for c in group]),
                related_ms=_median_p95([c.related_ms for c in group]),
                has_more_cost=statistics.median(
                    (c.long_page_ms - c.page_ms) / PAGE_SIZE / c.page_ms for c in group
                ),
                page_and_estimate=statistics.median((c.page_ms + c.ms) / c.page_ms for c in group),
                page_and_unkept_estimate=statistics.median(
                    (c.page_ms + c.unkept_ms) / c.page_ms for c in group
                ),
                page_and_exact=statistics.median(
                    (c.page_ms + c.exact_ms) / c.page_ms for c in group
                ),
                page_and_unkept_exact=statistics.median(
                    (c.page_ms + c.exact_unkept_ms) / c.page_ms for c in group
                ),
            )
        )
    return report


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown(report: CountReport) -> str:
    cases = report.cases
    held = sum(c.bound_holds for c in cases) / len(cases) if cases else math.nan
    lines = [
        f"# gallery_count estimate vs exact: {report.label}",
        "",
        f"`{report.command}`",
        "",
        "Relative error |estimate - exact| / max(exact, 1): median / p95 / worst per class;"
        " bound = share of cases with low <= exact <= high; counted = cases the estimate"
        " mode counted exactly (at most ~200 matches); time = server ms of the estimate"
        " called again for the same filter, kept in the count memo (median of the cases'"
        " medians / p95 / max), and with the memo off, as on a filter's first call"
        " (median / p95).",
        "",
        "| class | cases | median exact | estimate error | bound held | counted |"
        " independence error | estimate ms | not kept ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report.classes:
        lines.append(
            f"| {c.label} | {c.cases} | {c.median_exact:,.0f} | {_pct(c.median_error)} /"
            f" {_pct(c.p95_error)} / {_pct(c.worst_error)} | {_pct(c.bound_held)} |"
            f" {c.counted} | {_pct(c.independence_median_error)} /"
            f" {_pct(c.independence_p95_error)} / {_pct(c.independence_worst_error)} |"
            f" {c.median_ms:.3f} / {c.p95_ms:.3f} / {c.max_ms:.3f} |"
            f" {c.unkept_ms[0]:.3f} / {c.unkept_ms[1]:.3f} |"
        )
    lines += [
        "",
        f"Bound held in {_pct(held)} of {len(cases)} cases.",
        "",
        "## A gallery screen's calls",
        "",
        f"Server ms, median / p95 over the cases: the first page ({PAGE_SIZE} rows, the"
        f" planner's pick), the exact count capped at {CAP:,}, related_tags (defaults);"
        " has_more's cost = what the row past the page costs at most, as a share of the"
        f" page: median of (page of {2 * PAGE_SIZE} - page of {PAGE_SIZE}) / {PAGE_SIZE} /"
        " page; page + count = median of (page + count) / page. Counts called again for"
        " the same filter are kept in the count memo; not kept = with the memo off, as on"
        " a filter's first call.",
        "",
        "| class | page ms | exact count ms (kept) | exact count ms (not kept) |"
        " has_more cost | page + estimate (kept; not kept) |"
        " page + exact count (kept; not kept) | related_tags ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report.classes:
        lines.append(
            f"| {c.label} | {c.page_ms[0]:.2f} / {c.page_ms[1]:.2f} |"
            f" {c.exact_ms[0]:.2f} / {c.exact_ms[1]:.2f} |"
            f" {c.exact_unkept_ms[0]:.2f} / {c.exact_unkept_ms[1]:.2f} | {_pct(c.has_more_cost)} |"
            f" {c.page_and_estimate:.2f}x; {c.page_and_unkept_estimate:.2f}x |"
            f" {c.page_and_exact:.2f}x; {c.page_and_unkept_exact:.2f}x |"
            f" {c.related_ms[0]:.2f} / {c.related_ms[1]:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def write_outputs(report: CountReport, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {s: out / f"count-{report.label}.{s}" for s in ("json", "md")}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(report))
    return paths
