"""The bench commands at a tiny scale, so that they cannot rot (figures are not checked)."""

from __future__ import annotations

from click.testing import CliRunner

from bench.cli import main


def test_backfill_and_strategies_benches_run(blank_dsn: str) -> None:
    runner = CliRunner()

    backfill = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--scale", "0.002"])
    assert backfill.exit_code == 0, backfill.output
    assert "verify OK" in backfill.output

    again = runner.invoke(main, ["backfill", "--dsn", blank_dsn, "--reuse"])
    assert again.exit_code == 0 and "verify OK" in again.output, again.output

    strategies = runner.invoke(main, ["strategies", "--dsn", blank_dsn, "--runs", "1"])
    assert strategies.exit_code == 0, strategies.output
    rows = [line for line in strategies.output.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 6  # header and one row per query class
