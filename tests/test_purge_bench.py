"""``scripts/bench_purge.py`` runs end to end on a small database: it purges about the quarter of
the rows older than the days kept, and both mirrors' daily totals equal those before the purge."""

from __future__ import annotations

import json

import pytest

from scripts import bench_purge
from tests.conftest import POSTGRES_URL


@pytest.mark.postgres
def test_the_purge_benchmark_reports_equal_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_purge.main(["--rows", "4000", "--url", POSTGRES_URL, "--batch-size", "500"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["totals_equal"] is True
    # 100 of the 400 days are past the cut-off (give or take the day the cut-off falls in).
    assert 900 <= result["rows_purged"] <= 1100
    assert result["second_purge_s"] >= 0 and result["batch_size"] == 500
