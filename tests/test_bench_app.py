"""The app benchmark (scripts/bench_app.py) in a small mode: its last line of stdout is one JSON
object with the start-ups (the app's and the bare baseline's) and a figure for every page the
operator has, each measured the number of times asked; a second run uses a fresh copy of the
cached database and leaves the cached file as it was; a cache entry too old, or of another plan,
is not used; bad arguments are refused before anything is seeded or started. No figure of time is
compared with a number: the targets are reported, not asserted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.bench_app import server_env
from scripts.bench_app_world import DB_NAME, Plan, cache_key, prepare_sqlite

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"Chat", "Images", "My credits", "Usage analytics", "Credit admin", "Pricing & features"}
ROWS, RUNS, STARTS = 2000, 2, 1
SMALL = ["--usage-rows", str(ROWS), "--runs", str(RUNS), "--starts", str(STARTS)]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    """The script as ``make bench`` runs it, without this machine's workbench settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "STREAMLIT_"))}
    return subprocess.run(
        [sys.executable, "-m", "scripts.bench_app", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cached_files(cache: Path) -> dict[str, str]:
    return {
        str(path.relative_to(cache)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(cache.rglob(DB_NAME))
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-app-cache")


@pytest.fixture(scope="module")
def first(cache: Path) -> dict[str, Any]:
    return last_json(bench(*SMALL, "--cache-dir", str(cache)))


def test_a_small_run_measures_the_starts_and_every_page(first: dict[str, Any]) -> None:
    result = first
    assert set(result["page_ms"]) == PAGES
    assert set(result["page_first_ms"]) == PAGES
    assert set(result["page_sent"]) == PAGES
    samples = result["samples"]
    assert {title: len(runs) for title, runs in samples["page_ms"].items()} == dict.fromkeys(
        PAGES, RUNS
    )
    assert len(samples["startup_s"]) == len(samples["bare_startup_s"]) == STARTS
    assert len(samples["bare_page_ms"]) == 2 * RUNS  # the bare app's two pages each round
    figures = [
        result["startup_s"],
        result["bare_startup_s"],
        result["bare_page_ms"],
        *result["page_ms"].values(),
        *result["page_first_ms"].values(),
        *result["startup_parts_s"].values(),
        *result["import_s"].values(),
    ]
    # litellm is imported after the server is up, not by the entry script: no figure of its own.
    assert set(result["import_s"]) == {"workbench.app", "streamlit"}, result["import_s"]
    assert all(isinstance(f, int | float) and f > 0 for f in figures), figures
    assert all(sent["messages"] > 0 and sent["kb"] > 0 for sent in result["page_sent"].values())
    assert result["slowest_page"] == max(result["page_ms"], key=result["page_ms"].get)

    assert result["targets"] == {
        "startup_s_le_5": result["startup_s"] <= 5,
        "page_ms_le_300": result["page_ms"][result["slowest_page"]] <= 300,
    }
    assert result["targets_met"] == all(result["targets"].values())

    database = result["database"]
    assert (database["usage_rows"], database["seeded_by"], database["reused_cache"]) == (
        ROWS,
        "ledger",
        False,
    )
    assert database["journal_lines"] > ROWS, "written through the ledger: holds and captures"
    # The operator's Usage analytics showed requests: the rows were there to be read.
    assert int(result["usage_requests_shown"].replace(",", "")) > 0
    assert (result["usage_rows"], result["runs"], result["starts"]) == (ROWS, RUNS, STARTS)


def test_a_second_run_works_on_a_copy_of_the_cached_database(
    first: dict[str, Any], cache: Path
) -> None:
    before = cached_files(cache)
    assert len(before) == 1
    second = last_json(bench(*SMALL, "--cache-dir", str(cache)))
    database = second["database"]
    assert database["reused_cache"] is True
    assert database["cache_key"] == first["database"]["cache_key"]
    assert database["seeded_at"] == first["database"]["seeded_at"]
    assert cached_files(cache) == before, "the run wrote to the cached file itself"
    assert set(second["page_ms"]) == PAGES


def test_an_old_entry_or_another_plan_is_seeded_afresh(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    one, two, three = (tmp_path / name for name in ("one", "two", "three"))
    for workdir in (one, two, three):
        workdir.mkdir()
    plan = Plan(rows=300, way="bulk")
    stored = prepare_sqlite(one, server_env(one), plan, cache, max_age_h=24)
    assert stored.facts["reused_cache"] is False
    assert (cache / cache_key(plan) / DB_NAME).is_file()

    too_old = prepare_sqlite(two, server_env(two), plan, cache, max_age_h=0)
    assert too_old.facts["reused_cache"] is False
    assert too_old.facts["seeded_at"] >= stored.facts["seeded_at"]

    other = Plan(rows=300, way="bulk", seed=2)
    assert cache_key(other) != cache_key(plan)
    fresh = prepare_sqlite(three, server_env(three), other, cache, max_age_h=24)
    assert fresh.facts["reused_cache"] is False
    assert fresh.facts["cache_key"] == cache_key(other)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--runs", "0"], "must be positive"),
        (["--usage-rows", "-5"], "must be positive"),
        (["--starts", "0"], "must be positive"),
        (["--seed", "magic"], "invalid choice"),
        (["--timeout-s", "0"], "timeouts must be positive"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    tmp_path: Path, args: list[str], says: str
) -> None:
    cache = tmp_path / "cache"
    done = bench(*args, "--cache-dir", str(cache))
    assert done.returncode == 2, done
    assert says in done.stderr
    assert done.stdout == ""
    assert not cache.exists(), "nothing may be seeded for a refused run"
