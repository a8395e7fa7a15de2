"""pydeploy lint: each rule on a bad sample, our own SQL clean, plpgsql_check on a live database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from pydeploy import api
from pydeploy.cli import main
from pydeploy.lint import RULES

SAMPLES = Path(__file__).parent / "samples"
BAD = sorted((SAMPLES / "lint").rglob("*.sql"))


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_each_rule_is_caught_on_its_bad_sample(path: Path) -> None:
    expected_code = path.stem.split("_")[0]

    findings = api.lint([path])

    assert {f.code for f in findings} == {expected_code}
    assert all(f.path == str(path) and f.line >= 1 for f in findings)


def test_lines_point_at_the_offending_statement() -> None:
    findings = api.lint([SAMPLES / "lint" / "PD005_dynamic_sql_concatenation.sql"])

    assert [(f.code, f.line) for f in findings] == [("PD005", 7), ("PD005", 8)]


def test_every_rule_has_a_bad_sample() -> None:
    sampled = {p.stem.split("_")[0] for p in BAD}
    assert sampled == set(RULES) - {"PLPGSQL_CHECK"}


def test_our_own_sql_is_clean() -> None:
    assert api.lint() == []
    assert api.lint([SAMPLES / "project"]) == []


def test_cli_exit_codes_json_and_explain() -> None:
    runner = CliRunner()
    bad = str(SAMPLES / "lint" / "PD003_missing_search_path.sql")

    out = runner.invoke(main, ["lint", bad, "--format", "json"])
    assert out.exit_code == 1
    assert [f["rule"] for f in json.loads(out.output)] == ["missing-search-path"]

    assert runner.invoke(main, ["lint"]).exit_code == 0
    explained = runner.invoke(main, ["lint", "--explain", "pd006"])
    assert explained.exit_code == 0 and "keyset" in explained.output
    assert runner.invoke(main, ["lint", "--explain", "PD999"]).exit_code == 2


def test_deep_lint_reports_plpgsql_check_findings_and_leaves_no_extension(
    blank_dsn: str, tmp_path: Path
) -> None:
    project = tmp_path / "sql"
    shutil.copytree(SAMPLES / "project", project)
    api.apply(blank_dsn, project)
    assert api.lint_deep(blank_dsn, project) == []

    label = project / "functions" / "widget_label.sql"
    label.write_text(label.read_text().replace("SELECT name INTO", "SELECT nmae INTO"))
    api.apply(blank_dsn, project)
    findings = api.lint_deep(blank_dsn, project)

    errors = [f for f in findings if ": error:" in f.message]
    assert [(f.code, f.line) for f in errors] == [("PLPGSQL_CHECK", 9)]
    assert 'column "nmae" does not exist' in errors[0].message
    with psycopg.connect(blank_dsn) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'plpgsql_check'"
            ).fetchone()[0]
            == 0
        )


def test_locations_count_characters_not_bytes(tmp_path: Path) -> None:
    sample = tmp_path / "non_ascii.sql"
    sample.write_text(
        "-- déjà vu: µ before the statements shifts byte offsets, not character ones\n"
        "CREATE FUNCTION f_µ() RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE\n"
        "SET search_path = public, pg_temp AS $$ SELECT 1 OFFSET 0 $$;\n"
        "COMMENT ON FUNCTION f_µ() IS 'déjà vu';\n"
        "SELECT 1 OFFSET 2;\n",
        encoding="utf-8",
    )

    assert [(f.code, f.line) for f in api.lint([sample])] == [("PD006", 3), ("PD006", 5)]
