"""The catalogue of strategies (gallery._gallery_strategies()) and each strategy's final SQL.

The catalogue is the one list of strategies: the argument checks, the planner, the tests and
the bench read it. Here: the file the tests and the bench read at collection time is the
deployed function; every catalogued strategy has SQL and a cost for every match it serves,
and nothing else has; and the final text of every strategy, match, scope, direction and
cursor is the committed golden file under tests/golden/strategies/, so that a change to a
strategy's SQL shows up as a diff of the query.

Regenerate the golden files after an intended change with

    GALLERY_UPDATE_GOLDEN=1 ./dev test -k golden

and review the diff before committing it.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pglast
import psycopg
import pytest
from psycopg.rows import dict_row

from pydeploy import catalogue
from tests.conftest import REPO, SQL_DIR
from tests.test_gallery import COMMUNITY, RARE_TAGS, TAGS

GOLDEN_DIR = REPO / "tests" / "golden" / "strategies"
UPDATE = os.environ.get("GALLERY_UPDATE_GOLDEN") == "1"
CATALOGUE = catalogue.read_strategies(SQL_DIR)
STRATEGY_MATCHES = [(s.strategy, m) for s in CATALOGUE for m in s.matches]
# each source alone, all four, the anonymous community scope: sorted, as the checks give them
SCOPES = {
    "user-regular": ["user-regular"],
    "user-auto": ["user-auto"],
    "community-regular": ["community-regular"],
    "community-auto": ["community-auto"],
    "all": sorted(["user-regular", "user-auto", "community-regular", "community-auto"]),
    "community": sorted(COMMUNITY),
}
PAGES = [  # (forward, has_cursor, heading)
    (True, False, "direction next, first page"),
    (True, True, "direction next, after a cursor"),
    (False, False, "direction prev, no cursor (gallery_page asks prev only with one)"),
    (False, True, "direction prev, before a cursor"),
]
TAGGED_KS = (1, 2, 3)
# _gallery_<name>_sql functions that build pieces rather than a strategy
SQL_HELPERS = {"scope", "keyset", "strategy", "tag_first_page"}
RENDER = "SELECT gallery._gallery_strategy_sql(%s, %s, %s, %s::text[], %s, %s, %s) AS sql"


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


def estimates(reason: str) -> set[str]:
    """The strategies gallery_plan's reason gives an estimate for."""
    listed = reason.split("by estimate (", 1)[1].split(")", 1)[0]
    return set(re.findall(r"(\w+) [\d.]+ ms", listed))


@pytest.mark.parametrize("match", ["all", "any"])
def test_the_planner_estimates_exactly_the_catalogued_strategies(
    conn: psycopg.Connection, match: str
) -> None:
    plan = conn.execute(
        "SELECT * FROM gallery.gallery_plan(%s::uuid[], %s, %s::text[])",
        ([TAGS[0], RARE_TAGS[0]], match, COMMUNITY),
    ).fetchone()
    assert estimates(plan["reason"]) == {s.strategy for s in CATALOGUE if match in s.matches}


def test_sql_for_every_catalogued_strategy_and_nothing_else(conn: psycopg.Connection) -> None:
    for s in CATALOGUE:
        for match in s.matches:
            for k in (*((0,) if not s.needs_tags else ()), *TAGGED_KS):
                sql = conn.execute(
                    RENDER, (s.strategy, match, k, COMMUNITY, True, True, True)
                ).fetchone()["sql"]
                assert sql and pglast.parse_sql(sql), (s.strategy, match, k)
    assert (
        conn.execute(RENDER, ("no_such", "all", 1, COMMUNITY, True, True, True)).fetchone()["sql"]
        is None
    )
    builders = {
        r["name"]
        for r in conn.execute(
            "SELECT substring(proname FROM '^_gallery_(.*)_sql$') AS name FROM pg_proc"
            " WHERE pronamespace = 'gallery'::regnamespace AND proname LIKE '\\_gallery\\_%\\_sql'"
        )
    }
    assert builders - SQL_HELPERS == {s.strategy for s in CATALOGUE}


def test_a_catalogued_strategy_without_a_cost_formula_is_an_error(gallery_dsn: str) -> None:
    """The planner estimates what the catalogue lists; a strategy it cannot cost is an
    error, not silently never chosen. The checks accept the newcomer from the catalogue."""
    text = (SQL_DIR / "functions" / catalogue.CATALOGUE_FILE).read_text()
    last = "    ) AS c(strategy, matches, needs_tags, summary)"
    assert text.count(last) == 1
    extended = text.replace(last, f"        ,('newcomer', ARRAY['all'], true, 'new')\n{last}")
    with psycopg.connect(gallery_dsn, autocommit=True, row_factory=dict_row) as c:
        c.execute(extended)
        with pytest.raises(
            psycopg.errors.InternalError, match="no cost formula for strategy newcomer"
        ):
            c.execute("SELECT * FROM gallery.gallery_plan(%s::uuid[])", ([TAGS[0]],))
        plan = c.execute(
            "SELECT * FROM gallery.gallery_plan(%s::uuid[], 'any')", ([TAGS[0]],)
        ).fetchone()
        assert "newcomer" not in plan["reason"]
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="match 'any'") as raised:
            c.execute("SELECT * FROM gallery.gallery_plan(plan_for => 'newcomer', match => 'any')")
        assert raised.value.diag.message_hint == "match any: order_first, tag_union, tag_array"
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="newcomer needs tags"):
            c.execute("SELECT * FROM gallery.gallery_plan(plan_for => 'newcomer')")
        with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
            c.execute("SELECT * FROM gallery.gallery_plan(plan_for => 'fastest')")
        assert raised.value.diag.message_primary.endswith(", tag_array, newcomer, got 'fastest'")


# ------------------------------------------------------------------------- golden files


def pretty(sql: str) -> str:
    return pglast.prettify(sql, comma_at_eoln=True, compact_lists_margin=90)


def call_text(strategy: str, match: str, k: int, sources: list[str], use_tag_array: bool) -> str:
    return (
        f"gallery._gallery_strategy_sql('{strategy}', '{match}', {k},"
        f" '{{{','.join(sources)}}}', <forward>, <has_cursor>,"
        f" {str(use_tag_array).lower()})"
    )


def golden_text(
    conn: psycopg.Connection, strategy: str, match: str, k: int, scope: str, use_tag_array: bool
) -> tuple[tuple[str, ...], str]:
    """The four pages' raw SQL, and the golden file's text."""
    sources = SCOPES[scope]
    raw = tuple(
        conn.execute(
            RENDER, (strategy, match, k, sources, forward, has_cursor, use_tag_array)
        ).fetchone()["sql"]
        for forward, has_cursor, _ in PAGES
    )
    parts = [
        f"-- {call_text(strategy, match, k, sources, use_tag_array)}",
        "-- Generated by tests/test_strategies.py; regenerate with",
        "-- GALLERY_UPDATE_GOLDEN=1 ./dev test -k golden (never edit by hand).",
        "-- $1 viewer_id, $2 cursor created_at, $3 cursor id, $4 tags (rarest first),",
        "-- $5 page size, $6 seed tags (two_phase), $7 the tags' numbers (tags.tag_no)",
    ]
    for (_, _, heading), sql in zip(PAGES, raw, strict=True):
        parts += ["", f"-- {heading}", pretty(sql) + ";"]
    return raw, "\n".join(parts) + "\n"


def render_all(conn: psycopg.Connection) -> dict[str, tuple[str, str, str]]:
    """Every golden file: name -> (strategy, match, text).

    Named <strategy>-<match>[-notags|-kN][-no-tag-array]-<scope>.sql. K is in the name only
    where the text depends on it (it is rendered for K = 1, 2, 3; one file when all three
    are the same text), -notags is K = 0 (strategies that need no tags), -no-tag-array is
    gallery_config.enable_tag_array off, only where that changes the text."""
    files: dict[str, tuple[str, str, str]] = {}
    for s in CATALOGUE:
        for match in s.matches:
            for scope in SCOPES:
                tagged = {
                    (k, uta): golden_text(conn, s.strategy, match, k, scope, uta)
                    for k in TAGGED_KS
                    for uta in (True, False)
                }
                by_k = any(len({tagged[k, uta][0] for k in TAGGED_KS}) > 1 for uta in (True, False))
                chosen = {
                    ("notags", uta): golden_text(conn, s.strategy, match, 0, scope, uta)
                    for uta in (True, False)
                    if not s.needs_tags
                }
                for k in TAGGED_KS if by_k else TAGGED_KS[:1]:
                    for uta in (True, False):
                        chosen[f"k{k}" if by_k else "", uta] = tagged[k, uta]
                for (k_label, uta), (raw, text) in chosen.items():
                    if not uta and chosen[k_label, True][0] == raw:
                        continue  # enable_tag_array does not change this text
                    name = "-".join(
                        p
                        for p in (s.strategy, match, k_label, "" if uta else "no-tag-array", scope)
                        if p
                    )
                    files[f"{name}.sql"] = (s.strategy, match, text)
    return files


@pytest.fixture(scope="module")
def golden(conn: psycopg.Connection) -> dict[str, tuple[str, str, str]]:
    files = render_all(conn)
    if UPDATE:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        for stale in set(p.name for p in GOLDEN_DIR.glob("*.sql")) - set(files):
            (GOLDEN_DIR / stale).unlink()
        for name, (_, _, text) in files.items():
            path = GOLDEN_DIR / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
    return files


def diff(name: str, committed: str, rendered: str) -> str:
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            fromfile=f"tests/golden/strategies/{name} (committed)",
            tofile=f"{name} (rendered now)",
        )
    )


@pytest.mark.parametrize(
    ("strategy", "match"), STRATEGY_MATCHES, ids=["-".join(sm) for sm in STRATEGY_MATCHES]
)
def test_golden_strategy_sql(
    golden: dict[str, tuple[str, str, str]], strategy: str, match: str
) -> None:
    mine = {n: text for n, (s, m, text) in golden.items() if (s, m) == (strategy, match)}
    assert mine
    problems = []
    for name, text in sorted(mine.items()):
        path = GOLDEN_DIR / name
        committed = path.read_text() if path.exists() else ""
        if committed != text:
            problems.append(diff(name, committed, text) or f"{name}: differs")
    if problems:
        pytest.fail(
            "the SQL differs from its golden files; if intended, regenerate them with"
            " GALLERY_UPDATE_GOLDEN=1 ./dev test -k golden and commit the diff:\n\n"
            + "\n".join(problems),
            pytrace=False,
        )


def test_golden_files_are_exactly_the_rendered_ones(
    golden: dict[str, tuple[str, str, str]],
) -> None:
    on_disk = {p.name for p in GOLDEN_DIR.glob("*")}
    assert on_disk == set(golden), "stale or missing golden files: regenerate them (see above)"


def test_golden_files_name_only_catalogued_strategies() -> None:
    names = {s.strategy for s in CATALOGUE}
    for path in Path(GOLDEN_DIR).glob("*.sql"):
        assert path.name.split("-", 1)[0] in names, path.name
