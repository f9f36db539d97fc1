"""The UI benchmark (scripts/bench_ui.py): one small run against the real app in headless Chromium
ends with one JSON line holding every figure, each a measured time, in an order a person would
see them (the first words before the saved reply), with a page per navigation link the admin
has; bad arguments are refused before anything starts; and a navigation link that is not there
fails naming it. No figure of time is compared with a number (see test_bench_ui_clock.py for
what the clock counts).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from scripts.bench_ui import nav_link
from scripts.ui_clock import StepFailed
from tests.browser_harness import CHROMIUM, NO_CHROMIUM, browser_fixture, new_page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PAGES = {
    "Chat",
    "Images",
    "My credits",
    "Usage analytics",
    "Credit admin",
    "Pricing & features",
}
STEPS = ("sign_in_s", "first_token_s", "reply_saved_s", "image_s", "bare_page_switch_s")


def bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script as ``make bench`` runs it, with its temporary files in a folder of its own.

    Not ``tmp_path`` itself: under pytest-xdist it is long enough that Chromium's profile socket
    (``…/org.chromium.Chromium.XXXXXX/SingletonSocket``) passes the 107-byte limit of a Unix
    socket path and Chromium aborts. ``tmp_path`` only names the short folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "STREAMLIT_"))}
    with tempfile.TemporaryDirectory(prefix=f"bui-{tmp_path.name[:8]}-") as short:
        env["TMPDIR"] = short
        return subprocess.run(
            [sys.executable, "-m", "scripts.bench_ui", *args],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )


def measured(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_a_small_run_reports_every_figure(tmp_path: Path) -> None:
    done = bench(tmp_path, "--runs", "1", "--warmup", "0", "--quiet-ms", "300")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["runs"], result["warmup"], result["user"]) == (1, 0, "admin")
    for key in STEPS:
        assert measured(result[key]), key
    assert set(result["page_s"]) == ADMIN_PAGES
    assert all(measured(v) for v in result["page_s"].values()), result["page_s"]
    assert result["page_switch_s"] == max(result["page_s"].values())
    assert result["page_s"][result["slowest_page"]] == result["page_switch_s"]
    # The reply's first words come before it is saved, and they are its words, not a button's.
    assert result["first_token_s"] < result["reply_saved_s"]
    [first_text] = result["samples"]["first_token_text"]
    assert first_text and "Stop" not in first_text

    samples = result["samples"]
    for key in ("sign_in_s", "first_token_s", "reply_saved_s", "image_s"):
        assert samples[key] == [result[key]], key
    assert {title: [value] for title, value in result["page_s"].items()} == samples["page_s"]
    assert len(samples["bare_page_switch_s"]) == 2  # to the bare app's second page and back

    # One run: each step's parts add up to it (to within the rounding of each part). A warm run
    # of a light page can start and end between two of the browser's frames, so its parts may be
    # unknown (None); the slower pages' are seen.
    pages = result["breakdown"]["page_s"]
    seen = {t: p for t, p in pages.items() if None not in (p["to_run_s"], p["run_s"], p["draw_s"])}
    assert seen, pages
    for title, parts in seen.items():
        assert parts["to_run_s"] + parts["run_s"] + parts["draw_s"] == pytest.approx(
            result["page_s"][title], abs=0.002
        ), title
    assert result["breakdown"]["reply_saved_s"]["browser_s"] > 0

    assert result["targets"] == {
        "page_switch_le_1s": result["page_switch_s"] <= 1.0,
        "first_token_le_0_3s": result["first_token_s"] <= 0.3,
    }
    assert result["targets_met"] == all(result["targets"].values())
    assert result["stream_delay_s"] == 0.03  # the app's own default
    assert result["streamlit_version"] == version("streamlit")
    assert len(result["loadavg_1m"]) == 2
    assert result["cpus"] == os.cpu_count()
    assert measured(result["elapsed_s"])
    assert list(tmp_path.iterdir()) == [], "the run left temporary files behind"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "0"], "--runs must be positive and --warmup not negative"),
        (["--warmup", "-1"], "--runs must be positive and --warmup not negative"),
        (["--stream-delay-s", "2"], "--stream-delay-s must be between 0 and 1"),
        (["--quiet-ms", "-5"], "--quiet-ms must not be negative"),
        (["--server-env", "NO_EQUALS_SIGN"], "--server-env 'NO_EQUALS_SIGN': expected NAME=VALUE"),
        (["--server-env", "=x"], "--server-env '=x': expected NAME=VALUE"),
        (["--user", "nobody"], "invalid choice: 'nobody'"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = bench(tmp_path, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


browser = browser_fixture()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    try:
        yield opened
    finally:
        opened.context.close()


def test_a_missing_navigation_link_is_named_with_those_there(page: Page) -> None:
    page.set_content(
        '<section data-testid="stSidebar">'
        '<a data-testid="stSidebarNavLink"><span>chat</span><br>Chat</a>'
        '<a data-testid="stSidebarNavLink"><span>image</span><br>Images</a></section>'
    )
    assert nav_link(page, "Images").inner_text().endswith("Images")
    with pytest.raises(StepFailed) as failed:
        nav_link(page, "Usage analytics")
    assert str(failed.value) == (
        "0 navigation links titled 'Usage analytics' (the sidebar has ['Chat', 'Images'])"
    )
