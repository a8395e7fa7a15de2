"""The bench's query classes, chosen from the data itself, deterministically per seed.

Every class is one page request: tags, match, sources, viewer and the page
number (pages after the first are reached by following the approach's own
pagination). Tag frequencies come from ``tag_cardinality_stats``: refresh it
(``gallery_stats_refresh()``) before choosing.

Classes: one popular tag at pages 1, 5 and 50; one rare tag (the tag closest
to 100 items, at least 25 when such a tag exists); two popular tags; popular +
rare; among the most frequent tags, with their co-occurrence counted on a
sample of items (all items when small): a correlated pair (the pair seen
together most often among those at least CORRELATED_MIN_LIFT times more often
than independence predicts) and a nearly disjoint, anti-correlated pair
(lowest observed / expected); K = 3, 5, 10 ALL (tags of one seeded item, so a
match exists and the tags' correlation is real; a K no sampled item has is left
out); ANY of 3 seeded medium or
rare tags; an old popular tag (the most frequent tag with at most
OLD_MAX_RECENT_SHARE of its items among the newest RECENT_SHARE of all items:
a newest-first walk passes every recent item first); ANY of 3 old tags (seeded
among the most frequent old ones); the heaviest creator's own items with the
popular tag; no tag filter. All but the creator's own class ask for all four
sources as one seeded ordinary user. Each class says why its tags were chosen
(``QueryClass.why``) where the data decided it.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import psycopg

ALL_SOURCES = ("user-regular", "user-auto", "community-regular", "community-auto")
OWN_SOURCES = ("user-regular", "user-auto")
PAGE_SIZE = 25

RARE_TARGET = 100  # items carrying the "rare" tag, ideally
RARE_FLOOR = 25  # ... and at least this many, when some tag has that many
FREQUENT_PAIR_POOL = 40  # the frequent pairs are taken among this many top tags
CORRELATED_MIN_LIFT = 4.0  # observed / expected co-occurrence of a correlated pair
PAIR_SAMPLE_LINKS = 400_000  # about this many of the pool's links sampled for co-occurrence
K_TAG_POOL = 200  # K ALL classes take an item's tags among this many top tags
K_CANDIDATE_ITEMS = 5_000  # seeded items examined for K tags among the pool
RECENT_SHARE = 0.15  # the newest 15% of the items are "recent"
OLD_MAX_RECENT_SHARE = 0.01  # an old tag has at most 1% of its items among them
OLD_TAG_MIN_SHARE = 0.002  # old tags are taken among tags on at least 0.2% of the items
OLD_ANY_POOL = 10  # ANY of 3 old tags picks among this many most frequent old tags


@dataclass(frozen=True)
class QueryClass:
    label: str
    tags: tuple[uuid.UUID, ...]
    match: str
    sources: tuple[str, ...]
    viewer_id: int
    page: int = 1
    why: str = ""  # how the data decided the tags, when it did


def _tag_counts(conn: psycopg.Connection) -> list[tuple[uuid.UUID, int]]:
    """Every tag carried by at least one item, most frequent first (ties by id)."""
    rows = conn.execute(
        "SELECT tag_id, sum(cardinality)::bigint AS n FROM tag_cardinality_stats"
        " GROUP BY tag_id HAVING sum(cardinality) > 0 ORDER BY n DESC, tag_id"
    ).fetchall()
    if not rows:
        raise RuntimeError(
            "tag_cardinality_stats is empty: run SELECT gallery_stats_refresh() on data first"
        )
    return [(tag, int(n)) for tag, n in rows]


def _rare_tag(counts: list[tuple[uuid.UUID, int]]) -> uuid.UUID:
    eligible = [c for c in counts if c[1] >= RARE_FLOOR] or counts
    return min(eligible, key=lambda c: (abs(c[1] - RARE_TARGET), c[1], str(c[0])))[0]


def _viewers(conn: psycopg.Connection, seed: int) -> tuple[int, int]:
    """(an ordinary creator, picked by seed among those between the quartiles of items
    per creator; the creator of the most items)."""
    ordinary, heaviest = conn.execute(
        """
        WITH per AS (SELECT creator_id::bigint AS creator, count(*) AS n
                       FROM content_items_all GROUP BY 1),
             q AS (SELECT percentile_disc(0.25) WITHIN GROUP (ORDER BY n) AS lo,
                          percentile_disc(0.75) WITHIN GROUP (ORDER BY n) AS hi
                     FROM per)
        SELECT (SELECT per.creator FROM per, q WHERE per.n BETWEEN q.lo AND q.hi
                 ORDER BY hashint8extended(per.creator, %(seed)s), per.creator LIMIT 1),
               (SELECT creator FROM per ORDER BY n DESC, creator LIMIT 1)
        """,
        {"seed": seed},
    ).fetchone()
    return int(ordinary), int(heaviest)


@dataclass(frozen=True)
class PairCount:
    """Two tags' items and items together, counted on a sample of `sampled` items."""

    a: uuid.UUID
    b: uuid.UUID
    count_a: int
    count_b: int
    together: int
    sampled: int

    @property
    def expected(self) -> float:
        """Items together if the tags were independent."""
        return self.count_a * self.count_b / self.sampled

    @property
    def lift(self) -> float:
        return self.together / self.expected

    def why(self, names: dict[uuid.UUID, str], criterion: str) -> str:
        return (
            f"{criterion}: {names[self.a]} ({self.count_a:,} items) and {names[self.b]}"
            f" ({self.count_b:,}) together on {self.together:,} items where independence"
            f" predicts {self.expected:,.0f} ({self.lift:.2f}x), counted on"
            f" {self.sampled:,} items"
        )


def _pair_counts(conn: psycopg.Connection, pool: list[tuple[uuid.UUID, int]]) -> list[PairCount]:
    """Every pair of the pool's tags (with their item counts), counted on a deterministic
    sample of items holding about PAIR_SAMPLE_LINKS of the pool's links (all items when
    the pool has fewer links)."""
    pool_links = sum(n for _, n in pool)
    rows = conn.execute(
        """
        WITH sample AS (SELECT id, source_type FROM content_items_all
                         WHERE mod(hashint8(id::bigint), %(modulus)s) = 0),
             links AS MATERIALIZED (
                 SELECT ct.content_id, ct.content_source, ct.tag_id
                   FROM sample s
                   JOIN content_tags ct
                     ON ct.content_id = s.id AND ct.content_source = s.source_type
                  WHERE ct.tag_id = ANY (%(pool)s::uuid[])),
             freq AS (SELECT tag_id, count(*) AS n FROM links GROUP BY tag_id),
             pairs AS (SELECT x.tag_id AS a, y.tag_id AS b, count(*) AS n
                         FROM links x
                         JOIN links y ON y.content_id = x.content_id
                                     AND y.content_source = x.content_source
                                     AND y.tag_id > x.tag_id
                        GROUP BY 1, 2)
        SELECT fa.tag_id, fb.tag_id, fa.n, fb.n, coalesce(p.n, 0),
               (SELECT count(*) FROM sample)
          FROM freq fa
          JOIN freq fb ON fb.tag_id > fa.tag_id
          LEFT JOIN pairs p ON p.a = fa.tag_id AND p.b = fb.tag_id
        """,
        {
            "modulus": max(1, pool_links // PAIR_SAMPLE_LINKS),
            "pool": [tag for tag, _ in pool],
        },
    ).fetchall()
    return [PairCount(*row) for row in rows]


def _nearly_disjoint_pair(pairs: list[PairCount]) -> PairCount:
    """The lowest observed / expected co-occurrence, the pair expected most often first
    among equals."""
    return min(pairs, key=lambda p: (p.lift, -p.expected, p.a, p.b))


def _correlated_pair(pairs: list[PairCount]) -> tuple[PairCount, str]:
    """The pair seen together most often among those at least CORRELATED_MIN_LIFT times
    above independence (the highest lift when no pair is), and that criterion."""
    correlated = [p for p in pairs if p.lift >= CORRELATED_MIN_LIFT]
    if correlated:
        return (
            max(correlated, key=lambda p: (p.together, p.lift, p.a, p.b)),
            f"most often together of the pairs >= {CORRELATED_MIN_LIFT:g}x independence",
        )
    return (
        max(pairs, key=lambda p: (p.lift, p.together, p.a, p.b)),
        f"highest observed / expected (no pair reaches {CORRELATED_MIN_LIFT:g}x)",
    )


@dataclass(frozen=True)
class TagAge:
    tag: uuid.UUID
    items: int
    recent: int  # of them among the newest RECENT_SHARE of all items

    @property
    def recent_share(self) -> float:
        return self.recent / self.items

    def describe(self, names: dict[uuid.UUID, str]) -> str:
        return f"{names[self.tag]} ({self.items:,} items, {self.recent_share:.1%} of them recent)"


def _old_tags(
    conn: psycopg.Connection, counts: list[tuple[uuid.UUID, int]]
) -> tuple[list[TagAge], str]:
    """Tags on at least OLD_TAG_MIN_SHARE of the items, the old ones (at most
    OLD_MAX_RECENT_SHARE of their items recent) first, most frequent first (when no tag
    is old, the least recent first); and where "recent" starts."""
    (items,) = conn.execute("SELECT count(*) FROM content_items_all").fetchone()
    floor = max(RARE_FLOOR, OLD_TAG_MIN_SHARE * items)
    candidates = [(tag, n) for tag, n in counts if n >= floor] or counts[:FREQUENT_PAIR_POOL]
    rows = conn.execute(
        """
        WITH recent AS (SELECT id, source_type, created_at FROM content_items_all
                         ORDER BY created_at DESC, id DESC LIMIT %(recent)s)
        SELECT ct.tag_id, count(*), (SELECT min(created_at) FROM recent)
          FROM recent r
          JOIN content_tags ct ON ct.content_id = r.id AND ct.content_source = r.source_type
         WHERE ct.tag_id = ANY (%(tags)s::uuid[])
         GROUP BY ct.tag_id
        """,
        {"recent": math.ceil(RECENT_SHARE * items), "tags": [tag for tag, _ in candidates]},
    ).fetchall()
    recent = {tag: int(n) for tag, n, _ in rows}
    since = rows[0][2] if rows else None
    ages = [TagAge(tag, n, recent.get(tag, 0)) for tag, n in candidates]
    ages.sort(key=lambda a: (max(a.recent_share, OLD_MAX_RECENT_SHARE), -a.items, a.tag))
    return ages, f"recent = the newest {RECENT_SHARE:.0%} of the items, since {since:%Y-%m-%d}"


def _tag_names(conn: psycopg.Connection, tags: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(
        conn.execute("SELECT id, name FROM tags WHERE id = ANY (%s::uuid[])", (tags,)).fetchall()
    )


def _item_tags(
    conn: psycopg.Connection, pool: list[uuid.UUID], k: int, viewer: int, seed: int
) -> tuple[uuid.UUID, ...] | None:
    """K tags of the pool, picked by seed from the first seeded item the viewer can see
    that carries at least K of them; None when no item among K_CANDIDATE_ITEMS does
    (real items may carry at most 5 tags)."""
    row = conn.execute(
        """
        SELECT t.tags[1:%(k)s]
          FROM (SELECT id, source_type, hashint8extended(id::bigint, %(seed)s) AS h
                  FROM content_items_all
                 WHERE creator_id = %(viewer)s OR NOT is_private
                 ORDER BY h, id
                 LIMIT %(candidates)s) AS i
         CROSS JOIN LATERAL (
             SELECT array_agg(ct.tag_id ORDER BY hashtextextended(ct.tag_id::text, %(seed)s),
                              ct.tag_id) AS tags
               FROM content_tags ct
              WHERE ct.content_id = i.id AND ct.content_source = i.source_type
                AND ct.tag_id = ANY (%(pool)s::uuid[])) AS t
         WHERE cardinality(t.tags) >= %(k)s
         ORDER BY i.h, i.id
         LIMIT 1
        """,
        {"k": k, "seed": seed + k, "viewer": viewer, "pool": pool, "candidates": K_CANDIDATE_ITEMS},
    ).fetchone()
    return None if row is None else tuple(row[0])


def _seeded_pick(
    conn: psycopg.Connection, tags: list[uuid.UUID], how_many: int, seed: int
) -> tuple[uuid.UUID, ...]:
    """how_many of the tags, picked by seed."""
    rows = conn.execute(
        "SELECT t FROM unnest(%s::uuid[]) AS t ORDER BY hashtextextended(t::text, %s), t LIMIT %s",
        (tags, seed, how_many),
    ).fetchall()
    return tuple(r[0] for r in rows)


def _medium_or_rare(
    conn: psycopg.Connection, counts: list[tuple[uuid.UUID, int]], how_many: int, seed: int
) -> tuple[uuid.UUID, ...]:
    """Tags picked by seed among those on at most the median number of items (of the tags
    on at least RARE_FLOOR items, when there are such tags)."""
    eligible = [c for c in counts if c[1] >= RARE_FLOOR] or counts
    median = sorted(n for _, n in eligible)[(len(eligible) - 1) // 2]
    return _seeded_pick(conn, [tag for tag, n in eligible if n <= median], how_many, seed)


def choose_classes(conn: psycopg.Connection, seed: int) -> list[QueryClass]:
    """The bench's query classes for the data in conn's database (see the module doc)."""
    counts = _tag_counts(conn)
    popular = counts[0][0]
    second = counts[1][0] if len(counts) > 1 else popular
    rare = _rare_tag(counts)
    viewer, heaviest = _viewers(conn, seed)
    pool = [tag for tag, _ in counts[:K_TAG_POOL]]
    pairs = _pair_counts(conn, counts[:FREQUENT_PAIR_POOL])
    correlated, correlated_criterion = _correlated_pair(pairs)
    disjoint = _nearly_disjoint_pair(pairs)
    ages, recent = _old_tags(conn, counts)
    old_popular = ages[0]
    old_pool = [a for a in ages[:OLD_ANY_POOL] if a.recent_share <= OLD_MAX_RECENT_SHARE]
    if len(old_pool) < 3:  # too few old tags: the least recent ones
        old_pool = ages[:3]
    k_tags = {k: _item_tags(conn, pool, k, viewer, seed) for k in (3, 5, 10)}
    old_any = _seeded_pick(conn, [a.tag for a in old_pool], 3, seed)
    names = _tag_names(
        conn, [correlated.a, correlated.b, disjoint.a, disjoint.b, *(a.tag for a in old_pool)]
    )
    old_described = {a.tag: a.describe(names) for a in old_pool}

    def every(
        label: str, tags: tuple[uuid.UUID, ...], match: str = "all", page: int = 1, why: str = ""
    ) -> QueryClass:
        return QueryClass(label, tags, match, ALL_SOURCES, viewer, page, why)

    return [
        every("1 popular tag, page 1", (popular,)),
        every("1 popular tag, page 5", (popular,), page=5),
        every("1 popular tag, page 50", (popular,), page=50),
        every("1 rare tag", (rare,)),
        every("2 popular tags", (popular, second)),
        every("popular + rare", (popular, rare)),
        every(
            "correlated pair",
            (correlated.a, correlated.b),
            why=correlated.why(names, correlated_criterion),
        ),
        every(
            "nearly disjoint pair",
            (disjoint.a, disjoint.b),
            why=disjoint.why(names, "lowest observed / expected"),
        ),
        *(every(f"K = {k} ALL", tags) for k, tags in k_tags.items() if tags is not None),
        every("ANY of 3", _medium_or_rare(conn, counts, 3, seed), match="any"),
        every(
            "old popular tag",
            (old_popular.tag,),
            why=f"most frequent with <= {OLD_MAX_RECENT_SHARE:.0%} recent (else least recent): "
            f"{old_popular.describe(names)}; {recent}",
        ),
        every(
            "ANY of 3 old tags",
            old_any,
            match="any",
            why=f"seeded among {len(old_pool)} old tags (the most frequent, or the least"
            " recent when fewer than 3 are old): "
            + ", ".join(old_described[t] for t in old_any)
            + f"; {recent}",
        ),
        QueryClass("viewer's own + popular tag", (popular,), "all", OWN_SOURCES, heaviest),
        every("no tag filter", ()),
    ]
