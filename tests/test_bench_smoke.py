"""The bench commands at a tiny scale, so that they cannot rot (figures are not checked)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from click.testing import CliRunner

from bench.baselines import ensure_baselines
from bench.cli import main
from bench.run import approaches, class_approaches
from bench.workload import QueryClass


def test_backfill_and_run_benches(blank_dsn: str, tmp_path: Path) -> None:
    runner = CliRunner()

    backfill = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--scale", "0.002"])
    assert backfill.exit_code == 0, backfill.output
    assert "verify OK" in backfill.output

    again = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--reuse"])
    assert again.exit_code == 0 and "verify OK" in again.output, again.output

    options = ["--runs", "1", "--out", str(tmp_path), "--dataset-label", "smoke"]
    bench = runner.invoke(main, ["run", "--dsn", blank_dsn, *options])
    assert bench.exit_code == 0, bench.output
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert (tmp_path / "smoke.md").read_text().startswith("# Bench run: smoke")
    assert (tmp_path / "smoke.png").stat().st_size > 0
    assert report["mismatches"] == [] and report["errors"] == []
    assert report["approaches"] == approaches()
    assert len(report["classes"]) == 13
    for entry in report["classes"]:
        query_class = QueryClass(
            entry["label"], tuple(entry["tags"]), entry["match"], tuple(entry["sources"]), 0
        )
        assert list(entry["results"]) == class_approaches(query_class), entry["label"]
        assert all(r["status"] == "ok" for r in entry["results"].values()), entry["label"]
    assert report["insert"]["tags"] == 75 and report["deploy"]["noop_s"] is not None

    with psycopg.connect(blank_dsn, autocommit=True) as conn:  # built once per data
        assert not any(b.rebuilt for b in ensure_baselines(conn, rebuild=False))
