"""The bench commands at a tiny scale (generated and askubuntu data at scale 0.01,
reference data at 0.002), so that they cannot rot (figures are not checked)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from bench import generate
from bench.baselines import ensure_baselines
from bench.cli import main
from bench.run import approaches, class_approaches
from bench.workload import QueryClass

CLASSES_FROM_THE_DATA = {
    "correlated pair",
    "nearly disjoint pair",
    "old popular tag",
    "ANY of 3 old tags",
}


def test_backfill_bench(blank_dsn: str) -> None:
    runner = CliRunner()
    backfill = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--scale", "0.002"])
    assert backfill.exit_code == 0, backfill.output
    assert "verify OK" in backfill.output

    again = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--reuse"])
    assert again.exit_code == 0 and "verify OK" in again.output, again.output


def _run_smoke_bench(dsn: str, out: Path) -> dict:
    """bench run with one timed run per measurement; the report, checked for what every
    dataset must give."""
    options = ["--runs", "1", "--out", str(out), "--dataset-label", "smoke"]
    bench = CliRunner().invoke(main, ["run", "--dsn", dsn, *options])
    assert bench.exit_code == 0, bench.output
    report = json.loads((out / "smoke.json").read_text())
    assert (out / "smoke.md").read_text().startswith("# Bench run: smoke")
    assert (out / "smoke.png").stat().st_size > 0
    assert report["mismatches"] == [] and report["errors"] == []
    assert report["approaches"] == approaches()
    for entry in report["classes"]:
        query_class = QueryClass(
            entry["label"], tuple(entry["tags"]), entry["match"], tuple(entry["sources"]), 0
        )
        assert list(entry["results"]) == class_approaches(query_class), entry["label"]
        assert all(r["status"] == "ok" for r in entry["results"].values()), entry["label"]
        assert entry["bare"]["status"] == "ok" and entry["overhead_ms"] is not None
        assert (entry["label"] in CLASSES_FROM_THE_DATA) == bool(entry["why"]), entry["label"]
    assert {entry["label"] for entry in report["classes"]} >= CLASSES_FROM_THE_DATA
    assert report["insert"]["tags"] == 75 and report["deploy"]["noop_s"] is not None
    assert report["stats_refresh"]["median_ms"] > 0
    return report


@pytest.mark.parametrize("dataset", ["dense", "zipf"])
def test_generate_and_run_at_scale_0_01(blank_dsn: str, tmp_path: Path, dataset: str) -> None:
    generated = CliRunner().invoke(
        main, ["generate", "--dataset", dataset, "--scale", "0.01", "--dsn", blank_dsn]
    )
    assert generated.exit_code == 0, generated.output
    assert "652 items + 11,100 auto items" in generated.output

    report = _run_smoke_bench(blank_dsn, tmp_path)
    assert len(report["classes"]) == 16
    old = next(c for c in report["classes"] if c["label"] == "old popular tag")
    assert "0.0% of them recent" in old["why"]  # a generated old tag

    with psycopg.connect(blank_dsn, autocommit=True) as conn:  # built once per data
        assert not any(b.rebuilt for b in ensure_baselines(conn, rebuild=False))

    options = ["--runs", "1", "--out", str(tmp_path), "--dataset-label", "smoke"]
    counted = CliRunner().invoke(main, ["count", "--dsn", blank_dsn, *options])
    assert counted.exit_code == 0, counted.output
    count_report = json.loads((tmp_path / "count-smoke.json").read_text())
    assert len(count_report["classes"]) >= 8
    assert all(
        c["unkept_ms"][0] > 0 and c["exact_unkept_ms"][0] > 0 for c in count_report["classes"]
    )


@pytest.mark.skipif(
    not generate.ASKUBUNTU_DATA.is_dir(),
    reason="the askubuntu data is not in ../shared/data/askubuntu beside the repository",
)
def test_askubuntu_at_scale_0_01(blank_dsn: str, tmp_path: Path) -> None:
    generated = CliRunner().invoke(
        main, ["generate", "--dataset", "askubuntu", "--scale", "0.01", "--dsn", blank_dsn]
    )
    assert generated.exit_code == 0, generated.output
    assert "askubuntu at scale 0.01 (seed 1): 646 items + 2,096 auto items" in generated.output

    report = _run_smoke_bench(blank_dsn, tmp_path)
    assert "K = 10 ALL" not in {c["label"] for c in report["classes"]}  # at most 5 tags each

    measured = CliRunner().invoke(
        main, ["telemetry", "--dsn", blank_dsn, "--rounds", "1", "--calls", "2"]
    )
    assert measured.exit_code == 0, measured.output
    assert "| logged |" in measured.output
    with psycopg.connect(blank_dsn) as conn:  # left as deployed
        assert conn.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = 'gallery_telemetry'"
        ).fetchone() == ("u",)


def test_askubuntu_data_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(generate, "ASKUBUNTU_DATA", tmp_path / "askubuntu")
    result = CliRunner().invoke(
        main, ["generate", "--dataset", "askubuntu", "--dsn", "postgresql://unused"]
    )
    assert result.exit_code == 1, result.output
    message, hint = result.output.strip().splitlines()
    assert message.startswith("Error: askubuntu data not found: items.csv and links.csv missing")
    assert hint.startswith("HINT: put the dataset")
