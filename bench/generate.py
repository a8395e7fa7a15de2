"""Benchmark data written through the package's own schema.

``generate`` applies the package to an empty database and fills it with one
of three datasets, server side (generate_series, set-based INSERTs in chunks),
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
askubuntu
    Real data: every Ask Ubuntu question up to 2017-08 with its tags (271,233
    items, 734,292 links, 3,029 tags, 2009-2017), read from
    ``../shared/data/askubuntu`` beside the repository (see its SOURCE.md):
    real co-occurrence and real drift in time (tags whose use ended years
    ago). Ids and timestamps are the questions'; creators (when the file has
    none), privacy and the items/auto split are made up like the generated
    data's (a quarter of the items in 'items'). A scale below 1 keeps a seeded
    share of the questions with all their tags; 1 is the whole dataset.

dense and zipf: ~500 users at scale 1 with heavy and light creators (creator = 1 +
floor(u^2 * users)), 10% private items, timestamps in whole seconds over a
year (so ties in created_at occur), ids unique across both partitions (items
first, then auto items).

Items of a topic and a tag's members are enumerated arithmetically: item x
(0-based) has topic x mod 40; a tag takes n items of its home (or of the
items outside it), a set of size S, as
offset + j * stride mod S with stride coprime to S (distinct, spread over the
set, no sort). The links go through an unlogged staging table sorted by
item, so content_tags is written in key order like the dense data.
Both also get OLD_TAG_SHARES: tags whose items all lie in the oldest
OLD_TIMELINE_SHARE of the timeline (a tag whose use ended, like a real site's
old release tags), each on that share of all items.
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
from pydeploy.errors import PydeployError

DATASETS = ("dense", "zipf", "askubuntu")
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
OLD_TAG_SHARES = (0.04, 0.02, 0.01, 0.005)  # of all items, per old tag
OLD_TIMELINE_SHARE = 0.3  # ... all within the oldest 30% of the timeline
ASKUBUNTU_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "askubuntu"
ASKUBUNTU_ITEMS_SHARE = 0.25  # of the questions in source 'items', the rest in 'auto'
COPY_BLOCK = 1 << 20

Progress = Callable[[str, int, int], None]
"""Called as progress(step, done, total) while a step advances."""


class DatasetMissing(PydeployError):
    """The files of a real dataset are not where the bench reads them."""


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
INSERT INTO content_tags (content_id, content_source, tag_id, created_at)
SELECT i.id, i.source_type, t.tag_id, i.created_at
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
INSERT INTO content_tags (content_id, content_source, tag_id, created_at)
SELECT i.id, i.source_type, l.tag_id, i.created_at
  FROM bench_zipf_links l
  JOIN content_items_all i ON i.id = l.content_id
 WHERE l.content_id BETWEEN %(first)s AND %(last)s AND i.id BETWEEN %(first)s AND %(last)s
 ORDER BY l.content_id, l.tag_id
"""


# Old tags: item x (its created_at in the oldest OLD_TIMELINE_SHARE of the timeline)
# carries old tag n with probability share_n / OLD_TIMELINE_SHARE.
OLD_LINKS_SQL = """
INSERT INTO content_tags (content_id, content_source, tag_id, created_at)
SELECT i.id, i.source_type, t.tag_id, i.created_at
  FROM content_items_all i
  JOIN unnest(%(tag_ids)s::uuid[], %(shares)s::float8[]) WITH ORDINALITY AS t(tag_id, share, n)
    ON (hashint8extended(i.id * 1024 + t.n, %(seed)s + 6) & 2147483647) / 2147483648.0
       < t.share / %(timeline_share)s
 WHERE i.created_at < (SELECT min(created_at) + (max(created_at) - min(created_at))
                                                * %(timeline_share)s
                         FROM content_items_all)
 ORDER BY i.id, t.n
"""

ASKUBUNTU_STAGING_SQL = """
CREATE UNLOGGED TABLE bench_askubuntu_items (item_id bigint, created_at timestamptz,
                                             creator bigint);
CREATE UNLOGGED TABLE bench_askubuntu_links (item_id bigint, tag text)
"""

# The questions kept at this scale, with made-up creator (unless the file names
# one), privacy and source, from the same hashes as ITEMS_SQL.
ASKUBUNTU_ITEMS_SQL = """
INSERT INTO content_items_all (id, source_type, title, content_type, prompt, creator_id,
                               is_private, quality_score, created_at, updated_at)
SELECT q.item_id, CASE WHEN u.source < %(items_share)s THEN 'items' ELSE 'auto' END,
       'question ' || q.item_id, 'question', 'question ' || q.item_id,
       coalesce(q.creator, 1 + floor(u.creator ^ 2 * %(users)s)::int),
       u.private < 0.1,
       round(u.quality::numeric, 3),
       q.created_at, q.created_at
  FROM bench_askubuntu_items q
 CROSS JOIN LATERAL (
     SELECT (hashint8extended(q.item_id, %(seed)s + 1) & 2147483647) / 2147483648.0,
            (hashint8extended(q.item_id, %(seed)s + 2) & 2147483647) / 2147483648.0,
            (hashint8extended(q.item_id, %(seed)s + 3) & 2147483647) / 2147483648.0,
            (hashint8extended(q.item_id, %(seed)s + 4) & 2147483647) / 2147483648.0,
            (hashint8extended(q.item_id, %(seed)s + 5) & 2147483647) / 2147483648.0
 ) AS u(creator, private, quality, source, kept)
 WHERE q.item_id BETWEEN %(first)s AND %(last)s AND u.kept < %(scale)s
"""

ASKUBUNTU_LINKS_SQL = """
INSERT INTO content_tags (content_id, content_source, tag_id, created_at)
SELECT i.id, i.source_type, t.id, i.created_at
  FROM bench_askubuntu_links l
  JOIN content_items_all i ON i.id = l.item_id
  JOIN tags t ON t.name = l.tag
 WHERE l.item_id BETWEEN %(first)s AND %(last)s AND i.id BETWEEN %(first)s AND %(last)s
 ORDER BY i.id, t.id
"""


def _uuid_sql(label: str) -> str:
    return f"md5(%(seed)s || '/{label}/' || n)::uuid"


def check_request(dataset: str, scale: float) -> None:
    """Raise when the dataset or scale cannot be generated (DatasetMissing: the files
    of a real dataset are missing), before anything is written."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    if dataset == "askubuntu":
        if not 0 < scale <= 1:
            raise ValueError(
                f"askubuntu is real data of a fixed size: scale must be in (0, 1], not {scale}"
            )
        missing = [n for n in ("items.csv", "links.csv") if not (ASKUBUNTU_DATA / n).is_file()]
        if missing:
            raise DatasetMissing(
                f"askubuntu data not found: {' and '.join(missing)} missing in"
                f" ../shared/data/askubuntu (resolved to {ASKUBUNTU_DATA})",
                "put the dataset (items.csv, links.csv, SOURCE.md) in shared/data/askubuntu"
                " beside the repository's directory",
            )
    elif not 0 < scale <= 10:
        raise ValueError(f"scale must be in (0, 10], not {scale}")


def generate(
    dsn: str,
    *,
    dataset: str,
    scale: float,
    seed: int = 1,
    progress: Progress | None = None,
) -> Generated:
    """Apply the package to the (empty) database behind dsn and fill it with a dataset."""
    check_request(dataset, scale)
    report = progress or (lambda step, done, total: None)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    api.apply(dsn)
    seconds["apply"] = time.monotonic() - started
    users = max(5, round(USERS_AT_SCALE_1 * min(scale * 10, 1)))

    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT EXISTS (SELECT FROM content_items_all)").fetchone()[0]:
            raise ValueError("the database already has gallery items: generate into an empty one")
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "INSERT INTO users (id, username) SELECT g, 'user' || g FROM generate_series(1, %s) g",
            (users,),
        )
        if dataset == "askubuntu":
            tags, links = _load_askubuntu(
                conn, scale=scale, seed=seed, users=users, report=report, seconds=seconds
            )
        else:
            tags, links = _generate_items_and_links(
                conn, dataset, scale=scale, seed=seed, users=users, report=report, seconds=seconds
            )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users;"
            " SELECT setval('content_items_all_id_seq', max(id)) FROM content_items_all"
        )
        items, auto_items = conn.execute(
            "SELECT count(*) FILTER (WHERE source_type = 'items'),"
            "       count(*) FILTER (WHERE source_type = 'auto') FROM content_items_all"
        ).fetchone()

        step = time.monotonic()
        report("stats and vacuum", 0, 1)
        conn.execute("VACUUM (ANALYZE) content_items_all, content_tags, tags, users")
        conn.execute("SELECT gallery.gallery_stats_refresh()")  # sized by the fresh row counts
        conn.execute("CHECKPOINT")
        report("stats and vacuum", 1, 1)
        seconds["stats and vacuum"] = time.monotonic() - step
    seconds["total"] = time.monotonic() - started
    return Generated(dataset, scale, seed, users, tags, items, auto_items, links, seconds)


def _generate_items_and_links(
    conn: psycopg.Connection,
    dataset: str,
    *,
    scale: float,
    seed: int,
    users: int,
    report: Progress,
    seconds: dict[str, float],
) -> tuple[int, int]:
    """dense or zipf items, tags and links, then the old tags; (tags, links)."""
    items = max(1, round(ITEMS_AT_SCALE_1 * scale))
    total = items + max(1, round(AUTO_ITEMS_AT_SCALE_1 * scale))
    params: dict[str, object] = {"seed": seed, "users": users, "items": items}
    step = time.monotonic()
    for first in range(1, total + 1, ITEM_CHUNK):
        last = min(first + ITEM_CHUNK - 1, total)
        conn.execute(ITEMS_SQL, params | {"first": first, "last": last})
        report("items", last, total)
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
    report("old tags", 0, 1)
    old_tags = {"seed": seed, "tags": len(OLD_TAG_SHARES)}
    conn.execute(
        f"INSERT INTO tags (id, name) SELECT {_uuid_sql('old')}, 'old' || n"
        " FROM generate_series(1, %(tags)s) n",
        old_tags,
    )
    tag_ids = [
        r[0]
        for r in conn.execute(
            f"SELECT {_uuid_sql('old')} FROM generate_series(1, %(tags)s) n ORDER BY n", old_tags
        )
    ]
    links += conn.execute(
        OLD_LINKS_SQL,
        {
            "seed": seed,
            "tag_ids": tag_ids,
            "shares": list(OLD_TAG_SHARES),
            "timeline_share": OLD_TIMELINE_SHARE,
        },
    ).rowcount
    report("old tags", 1, 1)
    seconds["old tags"] = time.monotonic() - step
    return tags + len(OLD_TAG_SHARES), links


def _copy_file(conn: psycopg.Connection, path: Path, table: str, report: Progress) -> None:
    """COPY a CSV file with a header into a table, reporting the bytes sent."""
    total = path.stat().st_size
    step = f"reading {path.name}"
    with (
        path.open("rb") as f,
        conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
    ):
        while block := f.read(COPY_BLOCK):
            copy.write(block)
            report(step, f.tell(), total)


def _load_askubuntu(
    conn: psycopg.Connection,
    *,
    scale: float,
    seed: int,
    users: int,
    report: Progress,
    seconds: dict[str, float],
) -> tuple[int, int]:
    """The askubuntu questions kept at this scale, their tags and links; (tags, links)."""
    params: dict[str, object] = {
        "seed": seed,
        "users": users,
        "scale": scale,
        "items_share": ASKUBUNTU_ITEMS_SHARE,
    }
    step = time.monotonic()
    conn.execute(ASKUBUNTU_STAGING_SQL)
    _copy_file(conn, ASKUBUNTU_DATA / "items.csv", "bench_askubuntu_items", report)
    _copy_file(conn, ASKUBUNTU_DATA / "links.csv", "bench_askubuntu_links", report)
    conn.execute("CREATE INDEX ON bench_askubuntu_links USING brin (item_id)")
    conn.execute(
        "INSERT INTO users (id, username)"
        " SELECT DISTINCT creator, 'user' || creator FROM bench_askubuntu_items"
        " WHERE creator IS NOT NULL ON CONFLICT DO NOTHING"
    )
    (last_id,) = conn.execute("SELECT max(item_id) FROM bench_askubuntu_items").fetchone()
    seconds["read"] = time.monotonic() - step

    step = time.monotonic()
    for first in range(1, last_id + 1, ITEM_CHUNK):
        last = min(first + ITEM_CHUNK - 1, last_id)
        conn.execute(ASKUBUNTU_ITEMS_SQL, params | {"first": first, "last": last})
        report("items", last, last_id)
    seconds["items"] = time.monotonic() - step

    step = time.monotonic()
    tags = conn.execute(
        "INSERT INTO tags (id, name)"
        " SELECT md5(%s || '/askubuntu/' || tag)::uuid, tag"
        "   FROM (SELECT DISTINCT l.tag FROM bench_askubuntu_links l"
        "          JOIN content_items_all i ON i.id = l.item_id) AS t"
        "  ORDER BY tag",
        (seed,),
    ).rowcount
    seconds["tags"] = time.monotonic() - step

    step = time.monotonic()
    links = 0
    for first in range(1, last_id + 1, LINK_CHUNK_ITEMS):
        last = min(first + LINK_CHUNK_ITEMS - 1, last_id)
        links += conn.execute(ASKUBUNTU_LINKS_SQL, {"first": first, "last": last}).rowcount
        report("links", last, last_id)
    conn.execute("DROP TABLE bench_askubuntu_items, bench_askubuntu_links")
    seconds["links"] = time.monotonic() - step
    return tags, links


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
