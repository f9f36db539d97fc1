"""For the Images page's AppTest files: an app whose rate limit lets a test make dozens of calls,
images made through the gateway on the offline demo model (billed as the page bills them), and
reading the gallery of a run."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from ledger.owners import User
from tests.app_harness import IMAGES, ROOT, AppEnv, app_env
from tests.browser_harness import AppServer
from workbench.gateway.caller import Caller
from workbench.web.identity import COOKIE
from workbench.web.image_routes import image_path, routes

MODEL = "demo/images"


@contextmanager
def images_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    # No per-minute limit: a test makes more calls in a second than a person does in a minute.
    with app_env(tmp_path, monkeypatch, WORKBENCH_RATE_LIMIT_PER_MINUTE="0") as opened:
        yield opened


def make_images(env: AppEnv, user: User, prompt: str, count: int = 1) -> int:
    """``count`` images of ``prompt`` made for ``user`` in acme, as the page makes them; the
    call's hold id."""
    caller = Caller(user.id, env.workspace.id, env.account_id)
    result = env.svc.gateway.generate_images(
        caller,
        prompt,
        key=f"seed-{uuid.uuid4().hex}",
        model=MODEL,
        n=count,
        size="256x256",
        quality="standard",
    )
    assert len(result.images) == count
    return result.hold_id


def images_page(env: AppEnv, user: User) -> AppTest:
    return env.signed_in(user, IMAGES)


def prompts_shown(at: AppTest) -> list[str]:
    """Each gallery card's prompt as shown (plain text), top to bottom."""
    return [t.value for t in at.main.text]


def made_lines(at: AppTest) -> list[str]:
    """Each card's "2 images · 2026-05-01 14:03 UTC[ · by …]" caption."""
    pattern = re.compile(r"\d+ images? · \d{4}-\d\d-\d\d \d\d:\d\d UTC.*")
    return [c.value for c in at.main.caption if pattern.fullmatch(c.value)]


def buttons(at: AppTest, label: str) -> list[Button]:
    return [b for b in at.main.button if b.label == label]


def one_button(at: AppTest, label: str) -> Button:
    found = buttons(at, label)
    assert len(found) == 1, f"{label!r}: {len(found)} of {[b.label for b in at.main.button]}"
    return found[0]


def route_status(env: AppEnv, user: User, hold_id: int, index: int = 0) -> int:
    """What the app's image route answers ``user`` (signed in with a session cookie) for one
    image: 200 with the bytes, or the 404 for "no such image"."""
    token, _session = env.svc.web_sessions.open(user.id, None, "route check")
    with TestClient(Starlette(routes=routes())) as client:
        client.cookies.set(COOKIE, token)
        return client.get(image_path(hold_id, index)).status_code


# For a running app (``tests.browser_harness``): one process makes every call through the gateway
# (the CLI's ``gateway image`` would pay litellm's start-up once per call).
_SEED_SCRIPT = """
import sys, uuid
from workbench.cli.common import with_ledger
from workbench.gateway.caller import Caller
from workbench.gateway.setup import build_gateway

def work(book, config):
    gateway = build_gateway(book, config)
    workspace = book.workspace("demo")
    caller = Caller(book.user(sys.argv[1]).id, workspace.id, workspace.account_id)
    for prompt in sys.argv[2:]:
        key = f"seed-{uuid.uuid4().hex}"
        gateway.generate_images(
            caller, prompt, key=key, model="demo/images", n=1, size="256x256", quality="standard"
        )

with_ledger(work)
"""

# A running app for these tests: no per-minute limit (dozens of calls are seeded at once).
NO_RATE_LIMIT = {"WORKBENCH_RATE_LIMIT_PER_MINUTE": "0"}


def seed_server_images(server: AppServer, username: str, prompts: list[str]) -> None:
    """One image per prompt for ``username`` in the demo workspace, through the gateway."""
    subprocess.run(
        [sys.executable, "-c", _SEED_SCRIPT, username, *prompts],
        cwd=ROOT,
        env=server.env,
        check=True,
        timeout=300,
        capture_output=True,
    )
