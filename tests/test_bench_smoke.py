"""The bench commands at a tiny scale (generated data at scale 0.01, reference data at
0.002), so that they cannot rot (figures are not checked)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from bench.baselines import ensure_baselines
from bench.cli import main
from bench.run import approaches, class_approaches
from bench.workload import QueryClass


def test_backfill_bench(blank_dsn: str) -> None:
    runner = CliRunner()
    backfill = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--scale", "0.002"])
    assert backfill.exit_code == 0, backfill.output
    assert "verify OK" in backfill.output

    again = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--reuse"])
    assert again.exit_code == 0 and "verify OK" in again.output, again.output


@pytest.mark.parametrize("dataset", ["dense", "zipf"])
def test_generate_and_run_at_scale_0_01(blank_dsn: str, tmp_path: Path, dataset: str) -> None:
    runner = CliRunner()
    generated = runner.invoke(
        main, ["generate", "--dataset", dataset, "--scale", "0.01", "--dsn", blank_dsn]
    )
    assert generated.exit_code == 0, generated.output
    assert "652 items + 11,100 auto items" in generated.output

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
    assert report["stats_refresh"]["median_ms"] > 0

    with psycopg.connect(blank_dsn, autocommit=True) as conn:  # built once per data
        assert not any(b.rebuilt for b in ensure_baselines(conn, rebuild=False))
