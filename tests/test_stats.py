"""Tag statistics, their scheduling with pg_cron, facets, and what status says of them."""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.rows import dict_row

from pydeploy import api
from pydeploy.cli import main
from pydeploy.schedule import PgCronMissing
from pydeploy.server import LocalServer
from tests.conftest import SQL_DIR

DIRECT_COUNTS = """
SELECT t.id, s.source, count(ct.tag_id)
  FROM tags t CROSS JOIN (VALUES ('items'), ('auto')) AS s(source)
  LEFT JOIN content_tags ct ON ct.tag_id = t.id AND ct.content_source = s.source
 GROUP BY 1, 2 ORDER BY 1, 2
"""
STATS = "SELECT tag_id, content_source, cardinality FROM tag_cardinality_stats ORDER BY 1, 2"


def test_refresh_counts_exactly(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        c.execute("DELETE FROM content_tags WHERE content_id % 3 = 0")
        c.execute("INSERT INTO tags (name) VALUES ('brand new')")
        assert c.execute(STATS).fetchall() != c.execute(DIRECT_COUNTS).fetchall()

        refreshed, rows, links, seconds = c.execute(
            "SELECT * FROM gallery_stats_refresh()"
        ).fetchone()

        assert refreshed and rows == 2 * 25 and seconds >= 0
        assert links == c.execute("SELECT count(*) FROM content_tags").fetchone()[0]
        assert c.execute(STATS).fetchall() == c.execute(DIRECT_COUNTS).fetchall()
        c.execute("DELETE FROM tags WHERE name = 'brand new'")
        assert c.execute("SELECT count(*) FROM tag_cardinality_stats").fetchone()[0] == 2 * 24


def test_a_second_refresh_returns_at_once(gallery_dsn: str) -> None:
    with psycopg.connect(gallery_dsn) as first, psycopg.connect(gallery_dsn) as second:
        assert first.execute("SELECT refreshed FROM gallery_stats_refresh()").fetchone()[0]
        # first's transaction is still open: it holds the refresh lock
        second.execute("SET lock_timeout = '1s'")
        assert not second.execute("SELECT refreshed FROM gallery_stats_refresh()").fetchone()[0]
        first.commit()
        assert second.execute("SELECT refreshed FROM gallery_stats_refresh()").fetchone()[0]


def test_readers_never_see_an_empty_table_and_writes_go_on(gallery_dsn: str) -> None:
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with psycopg.connect(gallery_dsn, autocommit=True) as c:
                while not stop.is_set():
                    seen.append(
                        c.execute("SELECT count(*) FROM tag_cardinality_stats").fetchone()[0]
                    )
        except BaseException as e:
            errors.append(e)

    def write() -> None:
        try:
            with psycopg.connect(gallery_dsn, autocommit=True) as c:
                while not stop.is_set():
                    c.execute(
                        "WITH i AS (INSERT INTO content_items_all (title, creator_id, source_type)"
                        " VALUES ('x', 1, 'auto') RETURNING id)"
                        " INSERT INTO content_tags SELECT i.id, 'auto', t.id FROM i, tags t"
                        " WHERE t.name IN ('tag1', 'tag12')"
                    )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=read), threading.Thread(target=write)]
    for t in threads:
        t.start()
    try:
        with psycopg.connect(gallery_dsn, autocommit=True) as c:
            for _ in range(5):
                c.execute("SELECT gallery_stats_refresh()")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert seen and min(seen) == 2 * 24
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        c.execute("SELECT gallery_stats_refresh()")
        assert c.execute(STATS).fetchall() == c.execute(DIRECT_COUNTS).fetchall()


def test_health_reports_stale_and_missing_statistics_apart_from_deploy_state(
    gallery_dsn: str,
) -> None:
    assert api.status(gallery_dsn, SQL_DIR).health == []
    assert api.health(gallery_dsn) == []
    with psycopg.connect(gallery_dsn, autocommit=True) as c:
        c.execute("UPDATE tag_cardinality_stats SET updated_at = now() - interval '2 hours'")
        c.execute("INSERT INTO tags (name) VALUES ('unseen')")
    st = api.status(gallery_dsn, SQL_DIR)
    by_check = {h.check: h for h in st.health}
    assert by_check["stats_missing"].tags_without_stats == 1
    assert by_check["stats_stale"].stats_age_seconds is not None
    assert by_check["stats_stale"].stats_age_seconds >= 7200
    assert "120 minutes old" in by_check["stats_stale"].message
    # a deploy gate does not go red from an unscheduled job: deploy state is still in sync
    assert st.in_sync and not st.healthy
    out = CliRunner().invoke(main, ["status", "--dsn", gallery_dsn])
    assert out.exit_code == 0 and "health: stats_stale" in out.output
    as_json = json.loads(
        CliRunner().invoke(main, ["status", "--dsn", gallery_dsn, "--format", "json"]).output
    )
    assert as_json["in_sync"] is True and as_json["healthy"] is False
    stale = next(h for h in as_json["health"] if h["check"] == "stats_stale")
    assert stale["freshness_seconds"] > 0 and stale["stats_age_seconds"] >= 7200
    out = CliRunner().invoke(main, ["health", "--dsn", gallery_dsn])
    assert out.exit_code == 1 and "stats_missing" in out.output
    health_json = json.loads(
        CliRunner().invoke(main, ["health", "--dsn", gallery_dsn, "--format", "json"]).output
    )
    assert health_json["healthy"] is False
    assert {p["check"] for p in health_json["problems"]} == {"stats_missing", "stats_stale"}

    CliRunner().invoke(main, ["stats", "refresh", "--dsn", gallery_dsn])
    assert api.status(gallery_dsn, SQL_DIR).health == []
    assert CliRunner().invoke(main, ["health", "--dsn", gallery_dsn]).exit_code == 0


def test_schedule_install_list_remove(gallery_dsn: str) -> None:
    installed = api.schedule_install(gallery_dsn, "*/5 * * * *")
    again = api.schedule_install(gallery_dsn, "*/7 * * * *")  # idempotent: updates by name
    assert [j.name for j in installed] == [j.name for j in again]
    jobs = api.schedule_list(gallery_dsn)
    dbname = psycopg.conninfo.conninfo_to_dict(gallery_dsn)["dbname"]
    assert [j.jobname for j in jobs] == sorted(f"{j.name}:{dbname}" for j in installed)
    refresh = next(j for j in jobs if j.jobname.startswith("gallery-stats-refresh"))
    assert refresh.schedule == "*/7 * * * *" and refresh.active
    out = CliRunner().invoke(main, ["schedule", "--list", "--dsn", gallery_dsn])
    assert "gallery-stats-refresh" in out.output and "not run yet" in out.output
    out = CliRunner().invoke(main, ["schedule", "--list", "--dsn", gallery_dsn, "--format", "json"])
    listed = json.loads(out.output)["jobs"]
    assert [j["jobname"] for j in listed] == [j.jobname for j in jobs]
    listed_refresh = next(j for j in listed if j["jobname"].startswith("gallery-stats-refresh"))
    assert listed_refresh["last_run"] is None and "schedule" in listed_refresh

    assert sorted(api.schedule_remove(gallery_dsn)) == sorted(j.jobname for j in jobs)
    assert api.schedule_list(gallery_dsn) == []


def test_schedule_says_what_is_missing_without_pg_cron(spare_server: LocalServer) -> None:
    spare_server.start()
    with psycopg.connect(spare_server.url(), autocommit=True) as c:
        c.execute("ALTER SYSTEM SET shared_preload_libraries = 'auto_explain'")
    spare_server.stop()
    spare_server.start()
    dsn = spare_server.url()

    with pytest.raises(PgCronMissing, match="pg_cron is not preloaded"):
        api.schedule_install(dsn)
    out = CliRunner().invoke(main, ["schedule", "--dsn", dsn])
    assert out.exit_code == 2
    assert "shared_preload_libraries = 'pg_cron'" in out.output
    assert f"*/10 * * * * pydeploy stats refresh --dsn '{dsn}'" in out.output


@pytest.fixture(scope="module")
def facets(gallery_readonly: str) -> psycopg.Connection:
    with psycopg.connect(gallery_readonly, autocommit=True, row_factory=dict_row) as c:
        yield c


def test_popular_tags(facets: psycopg.Connection) -> None:
    def names(query: str, *args: object) -> list[tuple[str, int]]:
        return [(r["name"], r["item_count"]) for r in facets.execute(query, args or None)]

    oracle = names(
        "SELECT t.name, count(ct.tag_id) AS item_count FROM tags t"
        " LEFT JOIN content_tags ct ON ct.tag_id = t.id GROUP BY t.name"
        " ORDER BY 2 DESC, 1 LIMIT 5"
    )
    assert names("SELECT * FROM popular_tags(max_tags => 5)") == oracle
    auto = names(
        "SELECT t.name, count(ct.tag_id) AS item_count FROM tags t"
        " LEFT JOIN content_tags ct ON ct.tag_id = t.id AND ct.content_source = 'auto'"
        " GROUP BY t.name HAVING count(ct.tag_id) BETWEEN 5 AND 100 ORDER BY 2 DESC, 1"
    )
    assert names("SELECT * FROM popular_tags(100, 'auto', 5, 100)") == auto


def test_tag_counts_and_search(facets: psycopg.Connection) -> None:
    ids = [r["id"] for r in facets.execute("SELECT id FROM tags WHERE name IN ('tag12', 'tag3')")]
    rows = facets.execute(
        "SELECT * FROM tag_counts(%s::uuid[])",
        ([*map(str, ids), str(ids[0]), "00000000-0000-0000-0000-0000000000ff"],),
    ).fetchall()
    assert [r["tag_id"] for r in rows] == ids
    for r in rows:
        direct = facets.execute(
            "SELECT count(*) FILTER (WHERE content_source = 'items') AS items,"
            "       count(*) FILTER (WHERE content_source = 'auto') AS auto_items"
            "  FROM content_tags WHERE tag_id = %s",
            (r["tag_id"],),
        ).fetchone()
        assert (r["items"], r["auto_items"], r["total"]) == (
            direct["items"],
            direct["auto_items"],
            direct["items"] + direct["auto_items"],
        )
    found = facets.execute("SELECT * FROM tag_search('TAG1', max_tags => 4)").fetchall()
    assert [r["name"] for r in found[:2]] == ["tag1", "tag10"]  # ~70% and ~25% of items
    assert len(found) == 4 and all(r["name"].startswith("tag1") for r in found)
    counts = [r["item_count"] for r in found]
    assert counts == sorted(counts, reverse=True)
    assert facets.execute("SELECT count(*) AS n FROM tag_search('tag_', 100)").fetchone()["n"] == 0
    assert facets.execute("SELECT count(*) AS n FROM tag_search('%', 100)").fetchone()["n"] == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("popular_tags(0)", "max_tags must be between 1 and 1000"),
        ("popular_tags(10, 'regular')", "source must be 'items', 'auto' or NULL"),
        ("popular_tags(10, NULL, 50, 5)", "min_count 50 is above max_count 5"),
        ("tag_counts(NULL)", "tag_ids must be an array"),
        ("tag_counts(ARRAY[NULL]::uuid[])", "tag_ids must be an array"),
        ("tag_search('')", "prefix must not be empty"),
        ("tag_search('a', 500)", "max_tags must be between 1 and 100"),
    ],
)
def test_facet_errors(facets: psycopg.Connection, call: str, message: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        facets.execute(f"SELECT * FROM {call}")
    assert message in raised.value.diag.message_primary and raised.value.diag.message_hint


def test_sampled_time_and_pair_statistics_reach_the_planner(gallery_dsn: str) -> None:
    """Tags that always meet, tags that never do, and a tag on the oldest items only: the
    refresh samples them, and the planner's estimates follow the data, not independence."""
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute(
            "INSERT INTO tags (name) VALUES ('always_a'), ('always_b'), ('never_a'),"
            " ('never_b'), ('old')"
        )
        link = (
            "INSERT INTO content_tags (content_id, content_source, tag_id)"
            " SELECT i.id, i.source_type, t.id FROM content_items_all i, tags t"
            " WHERE t.name = %s AND i.id IN (SELECT id FROM content_items_all ORDER BY {})"
        )
        for name, order in [
            ("always_a", "hashint8(id) LIMIT 100"),
            ("always_b", "hashint8(id) LIMIT 100"),
            ("never_a", "hashint8(id) LIMIT 100"),
            ("never_b", "hashint8(id) DESC LIMIT 100"),
            ("old", "created_at, id LIMIT 60"),
        ]:
            c.execute(link.format(order), (name,))
        c.execute("SELECT gallery_stats_refresh()")
        ids = {r["name"]: r["id"] for r in c.execute("SELECT name, id FROM tags")}

        def plan(*names: str, match: str = "all") -> dict:
            return c.execute(
                "SELECT * FROM gallery_plan(%s::uuid[], %s)", ([ids[n] for n in names], match)
            ).fetchone()

        def matches(*names: str) -> int:
            return c.execute(
                "SELECT count(*) AS n FROM content_items_all i WHERE NOT i.is_private"
                " AND i.tag_nos @> (SELECT array_agg(tag_no) FROM tags WHERE name = ANY (%s))",
                (list(names),),
            ).fetchone()["n"]

        together = plan("always_a", "always_b")
        assert matches("always_a", "always_b") / 2 <= together["estimated_candidates"]
        assert together["estimated_candidates"] <= 2 * matches("always_a", "always_b")
        assert matches("never_a", "never_b") == 0
        assert plan("never_a", "never_b")["estimated_candidates"] <= 2
        newer = c.execute(
            "SELECT min(newer_share) AS share FROM tag_cardinality_stats WHERE tag_id = %s",
            (ids["old"],),
        ).fetchone()["share"]
        assert newer > 0.85  # the tag is on the oldest 60 of 800 items
        assert "passes ~9" in plan("old")["reason"]
        assert "passes" not in plan("old", "tag1", match="any")["reason"]  # tag1 is recent


def test_pair_lifts_are_counted_over_the_whole_sample(gallery_dsn: str) -> None:
    """Items with ~135 tags each (as on dense data, where pairs outnumber items by far):
    every stored lift is the one the sample gives, items with both tags over the items
    independence predicts, all counted over every sampled item (here the whole table)."""
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute("INSERT INTO tags (name) SELECT 'many' || n FROM generate_series(1, 150) n")
        c.execute(
            "INSERT INTO content_tags (content_id, content_source, tag_id)"
            " SELECT i.id, i.source_type, t.id FROM content_items_all i, tags t"
            " WHERE t.name LIKE 'many%' AND hashint8(i.id * 1000 + t.tag_no) % 10 <> 0"
        )
        c.execute("SELECT gallery_stats_refresh()")
        wrong = c.execute(
            """
            WITH n AS (SELECT count(*)::float8 AS m FROM content_items_all),
                 per_tag AS (SELECT t.id, count(*)::float8 AS n FROM content_items_all i
                               JOIN tags t ON t.tag_no = ANY (i.tag_nos) GROUP BY t.id)
            SELECT ps.tag_a, ps.tag_b, ps.lift,
                   greatest((SELECT count(*) FROM content_items_all i
                              WHERE i.tag_nos @> ARRAY[ta.tag_no, tb.tag_no]), 0.5)
                   * n.m / (a.n * b.n) AS exact
              FROM tag_pair_stats ps, n
              JOIN tags ta ON true JOIN tags tb ON true
              JOIN per_tag a ON true JOIN per_tag b ON true
             WHERE ta.id = ps.tag_a AND tb.id = ps.tag_b AND a.id = ps.tag_a AND b.id = ps.tag_b
            """
        ).fetchall()
        assert len(wrong) > 10_000  # (the 150 tags' pairs among them)
        assert [r for r in wrong if abs(r["lift"] - r["exact"]) > 1e-4 * r["exact"]] == []


def test_the_sample_of_a_never_analyzed_table_is_sized_by_its_rows(deployed_dsn: str) -> None:
    """Right after a bulk load the partitions have no row estimate (reltuples -1): the
    sample analyzes them first, instead of taking every item (bit strings as long as
    the table)."""
    with psycopg.connect(deployed_dsn, autocommit=True) as c:
        c.execute("INSERT INTO users (id, username) VALUES (1, 'one')")
        c.execute(
            "INSERT INTO content_items_all (title, creator_id, source_type)"
            " SELECT 'item ' || g, 1, 'items' FROM generate_series(1, 2000) g"
        )
        never_analyzed = "SELECT reltuples FROM pg_class WHERE oid = 'content_items'::regclass"
        assert c.execute(never_analyzed).fetchone() == (-1,)
        (sampled,) = c.execute(
            "SELECT sampled_items FROM gallery._gallery_stats_sample(100)"
        ).fetchone()
        assert 20 <= sampled <= 400  # ~100 of 2,000, not all of them
        assert c.execute(never_analyzed).fetchone() == (2000,)
        (length,) = c.execute(
            "SELECT length(bits) FROM count_sample_bits WHERE dimension = 'public'"
        ).fetchone()
        assert length == sampled
