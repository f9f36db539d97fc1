"""Every kind of response the app's server sends carries the security headers, once each, over real
HTTP against the running app: the page, Streamlit's scripts and styles, ``/_stcore/*``, media,
the workbench's own routes, 404s, 400s and redirects, a CORS preflight, HEAD, and the websocket's
upgrade; and an unhandled error's 500 (on a small app with the same middleware, since the real one
has no route that fails on purpose).

The policy itself: the workbench's own origin only, for everything; the inline script of
Streamlit's installed ``index.html`` by its hash (computed here on its own from the file);
``frame-ancestors 'none'``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit import file_util

from tests.browser_harness import AppServer, app_fixture, free_port
from tests.streamlit_socket import streamlit_socket
from workbench.web import headers

app = app_fixture()

INDEX = Path(file_util.get_static_dir()) / "index.html"
EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def installed_inline_script_hash() -> str:
    scripts = re.findall(r"<script>(.*?)</script>", INDEX.read_text(encoding="utf-8"), re.DOTALL)
    assert len(scripts) == 1, f"Streamlit's index.html has {len(scripts)} inline scripts"
    digest = hashlib.sha256(scripts[0].encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice in {policy!r}"
        parsed[name] = sources
    return parsed


def assert_security_headers(found: httpx.Headers, what: str) -> None:
    for name, value in EXPECTED.items():
        assert found.get_list(name) == [value], f"{what}: {name} is {found.get_list(name)}"
    policies = found.get_list("content-security-policy")
    assert len(policies) == 1, f"{what}: {len(policies)} Content-Security-Policy headers"
    policy = directives(policies[0])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", installed_inline_script_hash(), "'wasm-unsafe-eval'"]
    assert policy["img-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["font-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="module")
def bundle(app: AppServer, client: httpx.Client) -> dict[str, str]:
    """A script and the stylesheet the page links to, and the favicon a session's page config
    points at under ``/media/``."""
    page = client.get(app.url + "/index.html").text
    script = re.search(r'<script type="module"[^>]* src="\./([^"]+)"', page)
    style = re.search(r'<link rel="stylesheet"[^>]* href="\./([^"]+)"', page)
    assert script and style
    with streamlit_socket(app.url) as session:
        messages = session.run()
    favicons = [
        m.page_config_changed.favicon
        for m in messages
        if m.WhichOneof("type") == "page_config_changed"
        and m.page_config_changed.favicon.startswith("/media/")
    ]
    assert favicons, "no page config with a favicon under /media/"
    return {"script": f"/{script.group(1)}", "style": f"/{style.group(1)}", "media": favicons[0]}


Fetch = Callable[[httpx.Client, AppServer, dict[str, str]], httpx.Response]
# A signed-out request for one of the app's pages may be sent to the sign-in form (303) by local
# sign-in's gate; either answer must carry the headers.
PAGE = {200, 303}
RESPONSES: dict[str, tuple[Fetch, set[int]]] = {
    "the app's front page": (lambda c, a, b: c.get(a.url + "/"), PAGE),
    "a page's URL": (lambda c, a, b: c.get(a.url + "/credits"), PAGE),
    "HEAD of a page": (lambda c, a, b: c.head(a.url + "/credits"), PAGE),
    "the page shell": (lambda c, a, b: c.get(a.url + "/index.html"), {200}),
    "an unknown path (the shell)": (lambda c, a, b: c.get(a.url + "/no-such-page"), {200}),
    "a script": (lambda c, a, b: c.get(a.url + b["script"]), {200}),
    "a stylesheet": (lambda c, a, b: c.get(a.url + b["style"]), {200}),
    "the favicon file": (lambda c, a, b: c.get(a.url + "/favicon.png"), {200}),
    "the health check": (lambda c, a, b: c.get(a.url + "/_stcore/health"), {200}),
    "the host config": (lambda c, a, b: c.get(a.url + "/_stcore/host-config"), {200}),
    "a media file": (lambda c, a, b: c.get(a.url + b["media"]), {200}),
    "a missing media file": (lambda c, a, b: c.get(a.url + "/media/0123456789abcdef.png"), {404}),
    "an unknown core route": (lambda c, a, b: c.get(a.url + "/_stcore/agent/nothing"), {404}),
    "the hidden metrics": (lambda c, a, b: c.get(a.url + "/_stcore/metrics"), {404}),
    "a refused path": (lambda c, a, b: c.get(a.url + "//elsewhere.example/x"), {400}),
    "a trailing-slash redirect": (lambda c, a, b: c.get(a.url + "/no-such-page/"), {301}),
    "an upload preflight": (lambda c, a, b: c.options(a.url + "/_stcore/upload_file/s/f"), {204}),
}


@pytest.mark.parametrize("what", list(RESPONSES))
def test_each_kind_of_response_carries_the_headers(
    what: str, app: AppServer, client: httpx.Client, bundle: dict[str, str]
) -> None:
    fetch, statuses = RESPONSES[what]
    answer = fetch(client, app, bundle)
    assert answer.status_code in statuses, f"{what}: {answer.status_code}"
    assert_security_headers(answer.headers, what)


def test_the_workbench_sign_in_route_carries_the_headers(
    app: AppServer, client: httpx.Client
) -> None:
    answer = client.get(app.url + "/auth/sign-in")
    assert answer.status_code == 200
    assert_security_headers(answer.headers, "the sign-in route")


def test_the_websocket_upgrade_carries_the_headers(app: AppServer) -> None:
    with streamlit_socket(app.url) as session:
        upgrade = session.connection.response
        assert upgrade is not None and upgrade.status_code == 101
        found = httpx.Headers(list(upgrade.headers.raw_items()))
        session.run()
    assert_security_headers(found, "the websocket upgrade")


def test_an_unhandled_errors_500_carries_the_headers() -> None:
    async def broken(_request: Request) -> Response:
        raise RuntimeError("a route's bug")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/broken", broken)], middleware=headers.middleware()),
            host="127.0.0.1",
            port=port,
            log_level="critical",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(trust_env=False) as client:
            answer = None
            for _ in range(200):
                try:
                    answer = client.get(f"http://127.0.0.1:{port}/broken")
                    break
                except httpx.ConnectError:
                    thread.join(0.05)  # not listening yet
        assert answer is not None
        assert answer.status_code == 500 and answer.text == "Internal Server Error"
        assert_security_headers(answer.headers, "a 500")
    finally:
        server.should_exit = True
        thread.join(10)
