"""The bench's query classes, chosen from the data itself, deterministically per seed.

Every class is one page request: tags, match, sources, viewer and the page
number (pages after the first are reached by following the approach's own
pagination). Tag frequencies come from ``tag_cardinality_stats``: refresh it
(``gallery_stats_refresh()``) before choosing.

Classes: one popular tag at pages 1, 5 and 50; one rare tag (the tag closest
to 100 items, at least 25 when such a tag exists); two popular tags; popular +
rare; a nearly disjoint frequent pair (lowest observed/expected co-occurrence
among the most frequent tags, on a sample of items); K = 3, 5, 10 ALL (tags of
one seeded item, so a match exists and the tags' correlation is real); ANY of
3 seeded medium or rare tags; the heaviest creator's own items with the popular
tag; no tag filter. All but the creator's own class ask for all four sources
as one seeded ordinary user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

ALL_SOURCES = ("user-regular", "user-auto", "community-regular", "community-auto")
OWN_SOURCES = ("user-regular", "user-auto")
PAGE_SIZE = 25

RARE_TARGET = 100  # items carrying the "rare" tag, ideally
RARE_FLOOR = 25  # ... and at least this many, when some tag has that many
FREQUENT_PAIR_POOL = 40  # the nearly disjoint pair is taken among this many top tags
K_TAG_POOL = 200  # K ALL classes take an item's tags among this many top tags
PAIR_SAMPLE_ITEMS = 5_000  # about this many items sampled for co-occurrence
K_CANDIDATE_ITEMS = 5_000  # seeded items examined for K tags among the pool


@dataclass(frozen=True)
class QueryClass:
    label: str
    tags: tuple[uuid.UUID, ...]
    match: str
    sources: tuple[str, ...]
    viewer_id: int
    page: int = 1


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


def _nearly_disjoint_pair(
    conn: psycopg.Connection, pool: list[uuid.UUID]
) -> tuple[uuid.UUID, uuid.UUID]:
    """Among the pool's tags, the pair whose co-occurrence on a deterministic sample of
    items is lowest relative to independence (observed / expected), the pair expected
    most often first among equals."""
    (items,) = conn.execute("SELECT count(*) FROM content_items_all").fetchone()
    a, b = conn.execute(
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
                        GROUP BY 1, 2),
             sampled AS (SELECT count(*)::float8 AS n FROM sample)
        SELECT fa.tag_id, fb.tag_id
          FROM freq fa
          JOIN freq fb ON fb.tag_id > fa.tag_id
         CROSS JOIN sampled
          LEFT JOIN pairs p ON p.a = fa.tag_id AND p.b = fb.tag_id
         ORDER BY coalesce(p.n, 0) / (fa.n * fb.n / sampled.n), fa.n * fb.n DESC,
                  fa.tag_id, fb.tag_id
         LIMIT 1
        """,
        {"modulus": max(1, items // PAIR_SAMPLE_ITEMS), "pool": pool},
    ).fetchone()
    return a, b


def _item_tags(
    conn: psycopg.Connection, pool: list[uuid.UUID], k: int, viewer: int, seed: int
) -> tuple[uuid.UUID, ...]:
    """K tags of the pool, picked by seed from the first seeded item the viewer can see
    that carries at least K of them."""
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
    if row is None:
        raise RuntimeError(
            f"no item among {K_CANDIDATE_ITEMS:,} sampled has {k} of the "
            f"{len(pool)} most frequent tags"
        )
    return tuple(row[0])


def _medium_or_rare(
    conn: psycopg.Connection, counts: list[tuple[uuid.UUID, int]], how_many: int, seed: int
) -> tuple[uuid.UUID, ...]:
    """Tags picked by seed among those on at most the median number of items (of the tags
    on at least RARE_FLOOR items, when there are such tags)."""
    eligible = [c for c in counts if c[1] >= RARE_FLOOR] or counts
    median = sorted(n for _, n in eligible)[(len(eligible) - 1) // 2]
    rows = conn.execute(
        "SELECT t FROM unnest(%s::uuid[]) AS t ORDER BY hashtextextended(t::text, %s), t LIMIT %s",
        ([tag for tag, n in eligible if n <= median], seed, how_many),
    ).fetchall()
    return tuple(r[0] for r in rows)


def choose_classes(conn: psycopg.Connection, seed: int) -> list[QueryClass]:
    """The bench's query classes for the data in conn's database (see the module doc)."""
    counts = _tag_counts(conn)
    popular = counts[0][0]
    second = counts[1][0] if len(counts) > 1 else popular
    rare = _rare_tag(counts)
    viewer, heaviest = _viewers(conn, seed)
    pool = [tag for tag, _ in counts[:K_TAG_POOL]]
    pair = _nearly_disjoint_pair(conn, [tag for tag, _ in counts[:FREQUENT_PAIR_POOL]])

    def every(
        label: str, tags: tuple[uuid.UUID, ...], match: str = "all", page: int = 1
    ) -> QueryClass:
        return QueryClass(label, tags, match, ALL_SOURCES, viewer, page)

    return [
        every("1 popular tag, page 1", (popular,)),
        every("1 popular tag, page 5", (popular,), page=5),
        every("1 popular tag, page 50", (popular,), page=50),
        every("1 rare tag", (rare,)),
        every("2 popular tags", (popular, second)),
        every("popular + rare", (popular, rare)),
        every("nearly disjoint pair", pair),
        *(every(f"K = {k} ALL", _item_tags(conn, pool, k, viewer, seed)) for k in (3, 5, 10)),
        every("ANY of 3", _medium_or_rare(conn, counts, 3, seed), match="any"),
        QueryClass("viewer's own + popular tag", (popular,), "all", OWN_SOURCES, heaviest),
        every("no tag filter", ()),
    ]
