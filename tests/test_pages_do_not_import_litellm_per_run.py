"""Heavy imports are paid once per server process, never per page run: litellm (seconds to import)
is loaded exactly once, and once every page has run, running every page again loads no module at
all.

The real app under ``streamlit run`` with ``PYTHONPROFILEIMPORTTIME=1``: the interpreter itself
writes one ``import time:`` line to the server's console each time it loads a module (a module
found in ``sys.modules`` writes none), so the console is the record of what was imported, and
when. An operator (every page) signs in through ``POST /auth/sign-in`` and runs each page over the
websocket as the frontend does: a first round (which may load what a page needs the first time),
then a mark in the console (a failed sign-in under a name made for it, which the server logs),
then two more rounds. Nothing may be imported after the mark.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from scripts.bench_app_pages import Session
from tests.browser_harness import ADMIN, AppServer, app_fixture, http_session_token
from tests.streamlit_socket import streamlit_socket
from workbench.ui.page_registry import PAGES

app = app_fixture(extra_env={"PYTHONPROFILEIMPORTTIME": "1"})
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)\s*$", re.MULTILINE)
RUN_TIMEOUT_S = 120.0
MARK_TIMEOUT_S = 60.0


def imported(console: str) -> list[str]:
    """The modules the interpreter loaded, in order, as its import-time lines name them."""
    return IMPORTED.findall(console)


def mark(server: AppServer) -> int:
    """Where the console stands once everything written so far has been read: a failed sign-in
    under a fresh name, then the position of the server's log line naming it."""
    name = f"mark-{uuid.uuid4().hex[:12]}"
    answer = httpx.post(
        f"{server.url}/auth/sign-in",
        data={"username": name, "password": "not the password", "next": "/"},
        timeout=30,
    )
    assert answer.status_code in (200, 303, 401, 403), answer.status_code
    deadline = time.monotonic() + MARK_TIMEOUT_S
    while time.monotonic() < deadline:
        found = server.output().find(name)
        if found >= 0:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the server never logged the failed sign-in of {name!r}")


@pytest.fixture
def session(app: AppServer) -> Iterator[tuple[Session, dict[str, str]]]:
    token = http_session_token(app, ADMIN)
    with streamlit_socket(app.url, cookie=f"workbench_session={token}") as socket:
        opened = Session(socket)
        hashes, _ = opened.pages(RUN_TIMEOUT_S)
        yield opened, hashes


def every_page(session: Session, hashes: dict[str, str]) -> None:
    for page in PAGES:
        run = session.run(hashes[page.title], RUN_TIMEOUT_S)
        assert not run.problems and page.title in run.headings, (page.title, run)


def test_litellm_loads_once_and_warm_page_runs_import_nothing(
    app: AppServer, session: tuple[Session, dict[str, str]]
) -> None:
    client, hashes = session
    assert [p.title for p in PAGES if p.title not in hashes] == [], "the operator sees every page"
    mark(app)  # whatever the failed sign-in loads the first time, before the rounds
    every_page(client, hashes)
    warm_from = mark(app)
    for _ in range(2):
        every_page(client, hashes)
    end = mark(app)

    loaded = imported(app.output()[:end])
    assert loaded.count("litellm") == 1, "litellm is loaded once per process"
    assert len(loaded) > 1000, "the console holds no import record: this test would prove nothing"
    assert imported(app.output()[warm_from:end]) == []
