"""Benchmark data written through the package's own schema.

``generate`` applies the package to an empty database and fills it with one
of two datasets, server side (generate_series, set-based INSERTs in chunks),
deterministic per seed:

dense
    The reference application's data (DESIGN.md): 65,205 items and 1,110,000
    auto items at scale 1, 106 tags; each item gets a uniform tag budget in
    [0, 200], capped at 106, and keeps each tag with probability budget / 106
    (~77 tags per item, ~91 M links). Every tag is on ~73% of the items:
    nothing is rare.
zipf
    A realistic folksonomy: the same item counts, ~20,000 tags at scale 1 whose
    item counts follow a real frequency curve (bench/tag_frequencies.csv)
    (ranks 1..T, rescaled to ~25 tags per item), and topics: each item belongs
    to one of 40 topics, each tag has a home of consecutive topics (as many as
    hold it at 80% density) and, unless that home is more than half of the
    topics, puts 95% of its items there. Tags at home together co-occur far
    more than chance, frequent tags with disjoint homes almost never: rare
    tags, nearly disjoint frequent pairs and strongly correlated sets exist.

Both: ~500 users at scale 1 with heavy and light creators (creator = 1 +
floor(u^2 * users)), 10% private items, timestamps in whole seconds over a
year (so ties in created_at occur), ids unique across both partitions (items
first, then auto items).

Items of a topic and a tag's members are enumerated arithmetically: item x
(0-based) has topic x mod 40; a tag takes n items of its home (or of the
items outside it), a set of size S, as
offset + j * stride mod S with stride coprime to S (distinct, spread over the
set, no sort). The links go through an unlogged staging table sorted by
item, so content_tags is written in key order like the dense data.
"""

from __future__ import annotations

import csv
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pydeploy import api

DATASETS = ("dense", "zipf")
ITEMS_AT_SCALE_1 = 65_205
AUTO_ITEMS_AT_SCALE_1 = 1_110_000
USERS_AT_SCALE_1 = 500
DENSE_TAGS = 106
ZIPF_TAGS_AT_SCALE_1 = 20_000
ZIPF_MIN_TAGS = 500
ZIPF_TAGS_PER_ITEM = 25
ZIPF_TOPICS = 40
ZIPF_IN_TOPIC_SHARE = 0.95
# Ranks 1..20,000 of Danbooru's tag post counts (end of 2024; MIT, from
# DominikDoom/a1111-sd-webui-tagcomplete, tags/danbooru.csv), names dropped.
TAG_FREQUENCIES = Path(__file__).resolve().parent / "tag_frequencies.csv"
ITEM_CHUNK = 50_000
LINK_CHUNK_ITEMS = 20_000

Progress = Callable[[str, int, int], None]
"""Called as progress(step, done, total) while a step advances."""


@dataclass(frozen=True)
class Generated:
    dataset: str
    scale: float
    seed: int
    users: int
    tags: int
    items: int
    auto_items: int
    links: int
    seconds: dict[str, float]


# u(key, salt): a uniform number in [0, 1) from a hash; deterministic, order-free.
ITEMS_SQL = """
INSERT INTO content_items_all (id, source_type, title, content_type, prompt, creator_id,
                               is_private, quality_score, created_at, updated_at)
SELECT g, CASE WHEN g <= %(items)s THEN 'items' ELSE 'auto' END,
       'item ' || g, 'image', 'prompt ' || g,
       1 + floor(u.creator ^ 2 * %(users)s)::int,            -- heavy and light creators
       u.private < 0.1,
       round(u.quality::numeric, 3),
       -- a year in whole seconds: with ~1.2 M items many share a timestamp
       timestamptz '2025-01-01' + floor(u.ts * 365 * 86400) * interval '1 second',
       timestamptz '2025-01-01' + floor(u.ts * 365 * 86400) * interval '1 second'
  FROM generate_series(%(first)s::bigint, %(last)s) g
 CROSS JOIN LATERAL (
     SELECT (hashint8extended(g, %(seed)s + 1) & 2147483647) / 2147483648.0,
            (hashint8extended(g, %(seed)s + 2) & 2147483647) / 2147483648.0,
            (hashint8extended(g, %(seed)s + 3) & 2147483647) / 2147483648.0,
            (hashint8extended(g, %(seed)s + 4) & 2147483647) / 2147483648.0
 ) AS u(creator, private, quality, ts)
"""

DENSE_LINKS_SQL = """
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT i.id, i.source_type, t.tag_id
  FROM content_items_all i
 CROSS JOIN LATERAL (
     SELECT least(floor((hashint8extended(i.id, %(seed)s + 5) & 2147483647)
                        / 2147483648.0 * 201), %(tags)s) / %(tags)s::float8
 ) AS b(keep)
  JOIN unnest(%(tag_ids)s::uuid[]) WITH ORDINALITY AS t(tag_id, n)
    ON (hashint8extended(i.id * 1024 + t.n, %(seed)s) & 2147483647) / 2147483648.0 < b.keep
 WHERE i.id BETWEEN %(first)s AND %(last)s
 ORDER BY i.id, t.n
"""

# Members of each tag: a tag's home is `spread` consecutive topics from `topic`;
# in-home items are x = q*M + (topic + k mod spread) mod M for k = (offset + j*stride)
# mod (spread*S), q = k / spread; the others enumerate the items outside the home
# the same way.
ZIPF_STAGING_SQL = """
CREATE UNLOGGED TABLE bench_zipf_links AS
SELECT x + 1 AS content_id, p.tag_id
  FROM bench_zipf_plan p
 CROSS JOIN LATERAL (
     SELECT (k / p.spread) * %(topics)s + (p.topic + k %% p.spread) %% %(topics)s
       FROM generate_series(0::bigint, p.in_topic - 1) j
      CROSS JOIN LATERAL (
          SELECT (p.in_offset + j * p.in_stride) %% (p.spread * %(per_topic)s)) AS o(k)
     UNION ALL
     SELECT (k / (%(topics)s - p.spread)) * %(topics)s
            + (p.topic + p.spread + k %% (%(topics)s - p.spread)) %% %(topics)s
       FROM generate_series(0::bigint, p.out_topic - 1) j
      CROSS JOIN LATERAL (
          SELECT (p.out_offset + j * p.out_stride)
                 %% ((%(topics)s - p.spread) * %(per_topic)s)) AS o(k)
 ) AS m(x)
 ORDER BY 1, 2
"""

ZIPF_LINKS_SQL = """
INSERT INTO content_tags (content_id, content_source, tag_id)
SELECT l.content_id, CASE WHEN l.content_id <= %(items)s THEN 'items' ELSE 'auto' END, l.tag_id
  FROM bench_zipf_links l
 WHERE l.content_id BETWEEN %(first)s AND %(last)s
"""


def _uuid_sql(label: str) -> str:
    return f"md5(%(seed)s || '/{label}/' || n)::uuid"


def generate(
    dsn: str,
    *,
    dataset: str,
    scale: float,
    seed: int = 1,
    progress: Progress | None = None,
) -> Generated:
    """Apply the package to the (empty) database behind dsn and fill it with a dataset."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    if not 0 < scale <= 10:
        raise ValueError(f"scale must be in (0, 10], not {scale}")
    report = progress or (lambda step, done, total: None)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    api.apply(dsn)
    seconds["apply"] = time.monotonic() - started

    items = max(1, round(ITEMS_AT_SCALE_1 * scale))
    auto_items = max(1, round(AUTO_ITEMS_AT_SCALE_1 * scale))
    total = items + auto_items
    users = max(5, round(USERS_AT_SCALE_1 * min(scale * 10, 1)))
    params: dict[str, object] = {"seed": seed, "users": users, "items": items}

    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT EXISTS (SELECT FROM content_items_all)").fetchone()[0]:
            raise ValueError("the database already has gallery items: generate into an empty one")
        conn.execute("SET synchronous_commit = off")
        step = time.monotonic()
        conn.execute(
            "INSERT INTO users (id, username)"
            " SELECT g, 'user' || g FROM generate_series(1, %(users)s) g",
            params,
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), %s)", (users,))
        for first in range(1, total + 1, ITEM_CHUNK):
            last = min(first + ITEM_CHUNK - 1, total)
            conn.execute(ITEMS_SQL, params | {"first": first, "last": last})
            report("items", last, total)
        conn.execute("SELECT setval('content_items_all_id_seq', %s)", (total,))
        seconds["items"] = time.monotonic() - step

        step = time.monotonic()
        if dataset == "dense":
            tags = DENSE_TAGS
            conn.execute(
                f"INSERT INTO tags (id, name) SELECT {_uuid_sql('tag')}, 'tag' || n"
                " FROM generate_series(1, %(tags)s) n",
                params | {"tags": tags},
            )
            tag_ids = [
                str(r[0])
                for r in conn.execute(
                    f"SELECT {_uuid_sql('tag')} FROM generate_series(1, %(tags)s) n ORDER BY n",
                    params | {"tags": tags},
                )
            ]
            links_sql, link_params = DENSE_LINKS_SQL, params | {"tags": tags, "tag_ids": tag_ids}
        else:
            tags = _zipf_staging(conn, scale=scale, seed=seed, total=total, report=report)
            links_sql, link_params = ZIPF_LINKS_SQL, params
        seconds["tags"] = time.monotonic() - step

        step = time.monotonic()
        links = 0
        for first in range(1, total + 1, LINK_CHUNK_ITEMS):
            last = min(first + LINK_CHUNK_ITEMS - 1, total)
            links += conn.execute(links_sql, link_params | {"first": first, "last": last}).rowcount
            report("links", last, total)
        conn.execute("DROP TABLE IF EXISTS bench_zipf_links, bench_zipf_plan")
        seconds["links"] = time.monotonic() - step

        step = time.monotonic()
        report("stats and vacuum", 0, 1)
        conn.execute("SELECT gallery_stats_refresh()")
        conn.execute("VACUUM (ANALYZE) content_items_all, content_tags, tags, users")
        conn.execute("CHECKPOINT")
        report("stats and vacuum", 1, 1)
        seconds["stats and vacuum"] = time.monotonic() - step
    seconds["total"] = time.monotonic() - started
    return Generated(dataset, scale, seed, users, tags, items, auto_items, links, seconds)


def _coprime_stride(rng: random.Random, size: int) -> int:
    """A stride in [1, size) sharing no factor with size (1 when size <= 2)."""
    if size <= 2:
        return 1
    while True:
        stride = rng.randrange(1, size)
        if math.gcd(stride, size) == 1:
            return stride


def _zipf_staging(
    conn: psycopg.Connection, *, scale: float, seed: int, total: int, report: Progress
) -> int:
    """Tags with their members planned per tag (bench_zipf_plan), the links staged
    sorted by item (bench_zipf_links); returns the number of tags."""
    tag_count = max(ZIPF_MIN_TAGS, round(ZIPF_TAGS_AT_SCALE_1 * scale))
    with TAG_FREQUENCIES.open(newline="") as f:
        counts = [int(row["count"]) for row in csv.DictReader(f)][:tag_count]
    topics = ZIPF_TOPICS
    per_topic = total // topics  # items past topics * per_topic get no tags
    factor = ZIPF_TAGS_PER_ITEM * per_topic * topics / sum(counts)
    rng = random.Random(seed)
    plan = []
    for rank, count in enumerate(counts, start=1):
        members = min(per_topic * topics, max(1, round(count * factor)))
        topic = rng.randrange(topics)
        # Home: as many topics as it takes to hold the tag at 80% density. A tag at
        # home in at most half of the topics keeps 95% of its items there; the most
        # frequent ones spread in proportion (nearly uniform).
        spread = min(topics - 1, math.ceil(members / (0.8 * per_topic)))
        share = ZIPF_IN_TOPIC_SHARE if spread <= topics // 2 else spread / topics
        in_topic = min(spread * per_topic, round(members * share))
        out_topic = min((topics - spread) * per_topic, members - in_topic)
        plan.append(
            (
                rank,
                topic,
                spread,
                in_topic,
                rng.randrange(spread * per_topic),
                _coprime_stride(rng, spread * per_topic),
                out_topic,
                rng.randrange((topics - spread) * per_topic),
                _coprime_stride(rng, (topics - spread) * per_topic),
            )
        )
    conn.execute(
        "CREATE UNLOGGED TABLE bench_zipf_plan (rank int, topic int, spread int, in_topic bigint,"
        " in_offset bigint, in_stride bigint, out_topic bigint, out_offset bigint,"
        " out_stride bigint)"
    )
    with conn.cursor().copy("COPY bench_zipf_plan FROM STDIN") as copy:
        for row in plan:
            copy.write_row(row)
    conn.execute(
        "ALTER TABLE bench_zipf_plan ADD COLUMN tag_id uuid;"
        f" UPDATE bench_zipf_plan SET tag_id = md5({seed} || '/zipf/' || rank)::uuid;"
        " INSERT INTO tags (id, name) SELECT tag_id, 'z' || rank FROM bench_zipf_plan"
    )
    report("staging links", 0, 1)
    conn.execute("SET work_mem = '1GB'")
    conn.execute(ZIPF_STAGING_SQL, {"topics": topics, "per_topic": per_topic})
    conn.execute("RESET work_mem")
    conn.execute("CREATE INDEX ON bench_zipf_links USING brin (content_id)")
    report("staging links", 1, 1)
    return tag_count
