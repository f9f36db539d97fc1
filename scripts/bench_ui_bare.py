"""The UI benchmark's baseline (scripts/bench_ui.py): a bare Streamlit app (two pages, a title
and a line each, ``st.navigation``) under its own ``streamlit run`` on the same machine, and two
page switches on it timed by the same in-page clock. Measured at the same time as the app, it is
the floor that Streamlit, Chromium and the machine's load set for any page switch.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from scripts.ui_clock import Clock, Step, StepFailed
from tests.browser_harness import START_TIMEOUT_S, free_port, new_page, sidebar, wait_settled

BARE_TITLES = ("Alpha", "Beta")
BARE_APP = f"""import streamlit as st


def alpha() -> None:
    st.title("{BARE_TITLES[0]}")
    st.write("A bare page: a title and a line of text.")


def beta() -> None:
    st.title("{BARE_TITLES[1]}")
    st.write("Another bare page.")


st.navigation([st.Page(alpha, title="{BARE_TITLES[0]}", default=True),
               st.Page(beta, title="{BARE_TITLES[1]}")]).run()
"""


def bare_command(port: int, *options: str) -> list[str]:
    """``streamlit run bare_app.py`` on ``port`` with the app's own options (and ``options``)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "bare_app.py",
        "--server.headless=true",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        *options,
    ]


@contextmanager
def bare_app(workdir: Path) -> Iterator[str]:
    """``BARE_APP`` under ``streamlit run`` (the same options as the app's); yields its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        bare_command(port, "--server.address=127.0.0.1"),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise StepFailed(f"the bare Streamlit app did not start (exit {process.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def bare_switches(browser: Browser, url: str, **clock: Any) -> list[Step]:
    """Open the bare app, then switch to its second page and back, each timed."""
    page = new_page(browser)
    timer = Clock(page, **clock)
    steps = []
    try:
        page.goto(url)
        page.get_by_role("heading", name=BARE_TITLES[0], level=1).wait_for()
        wait_settled(page, quiet_ms=timer.quiet_ms)
        for title in (BARE_TITLES[1], BARE_TITLES[0]):
            link = sidebar(page).get_by_test_id("stSidebarNavLink").filter(has_text=title)
            timer.arm("page", title=title)
            link.click()
            steps.append(timer.wait(f"the bare app's switch to {title}"))
    finally:
        page.context.close()
    return steps
