"""The load test (``python -m bench loadtest``) in small: a short run on the fixture data that
must pass every check, a run with a planted paging bug that must fail, and its checks alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import loadtest
from bench.cli import main
from bench.loadtest import PageRow, TouchLog
from pydeploy import api
from tests.conftest import SQL_DIR

SHORT_RUN = ["--clients", "4", "--seconds", "10", "--slice-seconds", "2.5", "--stats-every", "2"]


def test_a_short_run_passes_every_check(gallery_dsn: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["loadtest", "--dsn", gallery_dsn, *SHORT_RUN, "--out", str(tmp_path), "--label", "smoke"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert report["failures"] == []
    assert (tmp_path / "smoke.md").read_text().startswith("# Load test: smoke")
    for approach in (loadtest.GALLERY, loadtest.GIN):
        figures = report["results"][approach]
        assert figures["all"]["pages"] > 0 and figures["walks"] > 0, approach
        assert set(figures["checks"].values()) == {0}, approach
    assert set(report["writes"]) == set(loadtest.WRITE_KINDS)
    assert any(r.get("refreshed") for r in report["stats_refreshes"])
    redeploy = report["redeploy"]
    assert redeploy["during"] == loadtest.GALLERY and "error" not in redeploy
    assert any("gallery_page(" in action for action in redeploy["actions"])
    assert api.status(gallery_dsn, SQL_DIR).in_sync, "the SQL was not deployed back"


def test_a_paging_bug_fails_the_run(
    gallery_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gallery_page's pages with their second row left out and their last row twice."""
    real_page = loadtest.gallery_page

    def broken_page(*args: object) -> list[PageRow]:
        rows = real_page(*args)  # type: ignore[arg-type]
        return [*rows[:1], *rows[2:], *rows[-1:]] if len(rows) > 2 else rows

    monkeypatch.setattr(loadtest, "gallery_page", broken_page)
    options = ["--clients", "2", "--seconds", "2", "--no-baseline", "--label", "broken"]
    result = CliRunner().invoke(
        main, ["loadtest", "--dsn", gallery_dsn, *options, "--out", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    checks = json.loads((tmp_path / "broken.json").read_text())["results"]["gallery_page"]["checks"]
    assert checks["skipped_items"] > 0 and checks["repeated_items"] > 0
    assert checks["out_of_order"] > 0 and checks["foreign_rows"] == 0
    assert "FAILED: gallery_page:" in result.output


def row(item: int, minute: int, creator: int = 1, private: bool = False) -> PageRow:
    return PageRow(item, datetime(2025, 1, 1, 0, minute, tzinfo=UTC), creator, private, None)


def test_the_checks() -> None:
    rows = [row(5, 9), row(4, 8, creator=2, private=True), row(3, 8), row(9, 8), row(2, 7)]
    assert loadtest.foreign_rows(rows, 2) == []
    assert loadtest.foreign_rows(rows, 3) == [rows[1]]
    assert loadtest.foreign_rows(rows, None) == [rows[1]]
    assert loadtest.out_of_order(rows) == [(3, 9)]  # same minute, id 3 before id 9
    assert loadtest.repeated_items([*rows, row(3, 8)]) == [3]
    assert loadtest.skipped_items(rows, {2, 3, 6, 7}, touched={7}) == {6}


def test_touches_count_from_a_walk_s_start_and_include_writes_under_way() -> None:
    touches = TouchLog()
    with touches.changing([1]):
        pass
    with touches.changing([2]):
        mark = touches.mark()  # a walk starts while item 2 is being changed
    with touches.changing([3]):
        pass
    assert touches.touched_since(mark) == {2, 3}


def test_only_this_machine() -> None:
    for dsn in ("postgresql://u@127.0.0.1/db", "host=/var/run/postgresql dbname=db", "dbname=db"):
        loadtest.require_local(dsn)
    for dsn in ("postgresql://u@db.example.com/db", "host=10.0.0.5 dbname=db"):
        with pytest.raises(ValueError, match="only runs against this machine"):
            loadtest.require_local(dsn)
