"""The catalogue of strategies (gallery._gallery_strategies()) and each strategy's query.

The catalogue is the one list of strategies: the argument checks, the planner, the tests and
the bench read it. Here: the file the tests and the bench read at collection time is the
deployed function; every catalogued strategy has its query (the function _gallery_<strategy>,
with the parameters every strategy takes), a cost in the planner for every match it serves,
a statement in gallery_page for every match it serves and each direction, and a branch in
_gallery_page_rows; and nothing else has any of these. Each strategy's whole query is its own
file in pgsql/functions/, so a change to it is a diff of that query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from pydeploy import catalogue
from tests.conftest import SQL_DIR
from tests.test_gallery import COMMUNITY, RARE_TAGS, TAGS

CATALOGUE = catalogue.read_strategies(SQL_DIR)
# what every strategy function takes and returns (gallery_page calls them all alike)
STRATEGY_ARGUMENTS = (
    "p_tags uuid[], p_tag_nos integer[], p_match text, p_types text[], p_own text[],"
    " p_others text[], p_viewer_id bigint, p_after_at timestamp with time zone,"
    " p_after_id bigint, p_has_cursor boolean, p_forward boolean, p_limit integer"
)
# the rows of the items it reads, as gallery_page returns them
STRATEGY_RESULT = (
    "TABLE(id bigint, source_type text, created_at timestamp with time zone,"
    " creator_id bigint, title text, content_type text, content_data text, path_thumb text,"
    " path_thumbs_alt_res jsonb, prompt text, item_metadata jsonb, is_private boolean,"
    " quality_score double precision, updated_at timestamp with time zone)"
)


@pytest.fixture(scope="module")
def conn(gallery_readonly: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(gallery_readonly, autocommit=True, row_factory=dict_row) as c:
        yield c


def test_the_catalogue_file_is_the_deployed_catalogue(conn: psycopg.Connection) -> None:
    rows = conn.execute("SELECT * FROM gallery._gallery_strategies()").fetchall()
    deployed = tuple(
        catalogue.Strategy(r["strategy"], tuple(r["matches"]), r["needs_tags"], r["summary"])
        for r in rows
    )
    assert deployed == CATALOGUE
    assert len({s.strategy for s in CATALOGUE}) == len(CATALOGUE)
    assert all(s.matches and set(s.matches) <= {"all", "any"} for s in CATALOGUE)
    assert any(not s.needs_tags for s in CATALOGUE), "without tags nothing would run"


@pytest.mark.parametrize("match", ["all", "any"])
def test_the_planner_costs_exactly_the_catalogued_strategies(
    conn: psycopg.Connection, match: str
) -> None:
    plan = conn.execute(
        "SELECT * FROM gallery.gallery_plan(%s::uuid[], %s, %s::text[])",
        ([TAGS[0], RARE_TAGS[0]], match, COMMUNITY),
    ).fetchone()
    assert set(plan["costs"]) == {s.strategy for s in CATALOGUE if match in s.matches}
    assert plan["strategy"] in plan["costs"]


def test_a_query_for_every_catalogued_strategy_and_nothing_else(conn: psycopg.Connection) -> None:
    """Every strategy function takes the same arguments and returns the same columns, and
    exactly the catalogued strategies have one; gallery_page's statement runs each."""
    functions = {
        r["proname"].removeprefix("_gallery_"): (r["args"], r["result"])
        for r in conn.execute(
            "SELECT proname, pg_get_function_arguments(oid) AS args,"
            " pg_get_function_result(oid) AS result FROM pg_proc"
            " WHERE pronamespace = 'gallery'::regnamespace"
            " AND pg_get_function_result(oid) = %s",
            (STRATEGY_RESULT,),
        )
    }
    assert set(functions) == {s.strategy for s in CATALOGUE}
    assert all(args == STRATEGY_ARGUMENTS for args, _ in functions.values())
    page = (SQL_DIR / "functions" / "gallery_page.sql").read_text()
    # one statement per strategy, match and direction, with the three as constants
    statements = re.findall(
        r"WHEN '(\w+) (\w+) (\w+)' THEN\s+RETURN QUERY SELECT \* FROM _gallery_page_rows\('(\w+)',"
        r"\s+v_req\.tags, v_req\.tag_nos, '(\w+)',.*?v_req\.has_cursor, (\w+), page_size",
        page,
        re.S,
    )
    assert sorted(statements) == sorted(
        (s.strategy, match, direction, s.strategy, match, forward)
        for s in CATALOGUE
        for match in s.matches
        for direction, forward in (("next", "true"), ("prev", "false"))
    )
    rows = (SQL_DIR / "functions" / "_gallery_page_rows.sql").read_text()
    queries = re.findall(
        r"SELECT \* FROM gallery\._gallery_(\w+)\(.*?WHERE p_strategy = '(\w+)'", rows, re.S
    )
    assert sorted(queries) == sorted((s.strategy, s.strategy) for s in CATALOGUE)


def test_forcing_a_strategy_the_catalogue_does_not_list_is_an_error(
    conn: psycopg.Connection,
) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        conn.execute("SELECT * FROM gallery.gallery_page(strategy => 'fastest')")
    listed = ", ".join(s.strategy for s in CATALOGUE)
    assert raised.value.diag.message_primary == f"strategy must be one of {listed}, got 'fastest'"


@pytest.mark.parametrize("strategy", [s.strategy for s in CATALOGUE])
def test_a_page_is_planned_without_the_other_matches_and_directions(
    conn: psycopg.Connection, strategy: str
) -> None:
    """gallery_page's statements give each strategy its match and direction as constants:
    PostgreSQL drops the other branches from the plan (a branch left in, stopped by a
    one-time filter, still costs its nodes' start and end on every call)."""
    matches = next(s.matches for s in CATALOGUE if s.strategy == strategy)
    for match in matches:
        tags = [TAGS[0], RARE_TAGS[0]] if match == "any" else [TAGS[0]]
        first = conn.execute(
            "SELECT row_cursor FROM gallery.gallery_page(%s::uuid[], match => %s,"
            " sources => %s::text[], page_size => 2, strategy => %s)",
            (tags, match, COMMUNITY, strategy),
        ).fetchall()
        for cursor, direction in ((None, "next"), (first[-1]["row_cursor"], "prev")):
            plan = "\n".join(
                r["gallery_explain"]
                for r in conn.execute(
                    "SELECT * FROM gallery.gallery_explain(%s::uuid[], %s, 2, %s, %s::text[],"
                    " direction => %s, strategy => %s, measure => false)",
                    (tags, cursor, match, COMMUNITY, direction, strategy),
                )
            )
            assert "One-Time Filter: false" not in plan, (strategy, match, direction, plan)
