"""The analytics benchmark (scripts/bench_analytics.py) runs end to end on a small ledger: its last
line of stdout is the JSON the Makefile's ``bench`` prints, and the analytics layer's figures of
the month equal the ones pandas computes from the ledger database."""

from __future__ import annotations

import json

import pytest

from scripts import bench_analytics

KEYS = {
    "events",
    "duckdb_s",
    "pandas_s",
    "speedup",
    "sync_s",
    "year_s",
    "initial_sync_s",
    "equal",
    "targets",
    "targets_met",
    "loadavg_1m",
    "cpus",
    "elapsed_s",
}
TARGETS = {"duckdb_s_le_0.3", "speedup_ge_10", "sync_s_le_0.5", "year_s_le_0.5"}


def test_a_small_run_prints_its_figures_and_agrees_with_pandas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = bench_analytics.main(["--events", "2000", "--new", "500", "--repeat", "3"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not KEYS - set(result), "missing keys"
    assert set(result["targets"]) == TARGETS
    assert result["targets_met"] == (all(result["targets"].values()) and result["equal"])
    assert result["mismatches"] == []
    assert result["equal"] is True
    assert code == 0
    assert result["events"] == 2000
    assert result["sync_rows"] == 500
    assert result["mirror_rows"] == 2500
    assert 0 < result["rows_month"] < result["rows_year"] <= 2500
    for key in ("duckdb_s", "pandas_s", "sync_s", "year_s", "initial_sync_s"):
        assert result[key] > 0, key
