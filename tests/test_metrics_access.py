"""Who may read ``/metrics``: loopback clients, and anyone else only with the bearer token.

The route's own code (``workbench.web.metrics_route.routes``, the one the app mounts) is served
through httpx's ASGI transport, which lets a test say which address the client has: the real
server only ever sees this machine's loopback. The open holds are read from a real, migrated
SQLite ledger. A refused scrape must show nothing of the metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from ledger.service import Ledger
from workbench.web import metrics_route
from workbench.web import routes as web_routes

TOKEN = "scrape-3f9c2a7d41e8b6"
OUTSIDE = ("10.0.0.5", 1234)
LOOPBACK_V4 = ("127.0.0.1", 1234)
LOOPBACK_V6 = ("::1", 1234)
# What an IPv4 client looks like to a dual-stack server (Streamlit's default address, ``::``).
LOOPBACK_MAPPED = ("::ffff:127.0.0.1", 1234)
OUTSIDE_MAPPED = ("::ffff:10.0.0.5", 1234)


@pytest.fixture
def book(sqlite_url: str) -> Iterator[Ledger]:
    opened = Ledger.open(sqlite_url)
    yield opened
    opened.close()


def get(
    book: Ledger,
    client: tuple[str, int],
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """``GET /metrics`` from ``client``, with the app configured with ``token`` (or none)."""
    configured = SecretStr(token) if token is not None else None
    app = Starlette(routes=metrics_route.routes(lambda: book.engine, lambda: configured))

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            return await http.get("/metrics", headers=headers)

    return asyncio.run(fetch())


def assert_refused(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status
    assert "workbench_" not in answer.text and "# TYPE" not in answer.text


def test_the_app_mounts_this_route() -> None:
    paths = [getattr(route, "path", None) for route in web_routes.routes()]
    assert paths.count(metrics_route.METRICS_PATH) == 1


@pytest.mark.parametrize(
    "client",
    [LOOPBACK_V4, LOOPBACK_V6, LOOPBACK_MAPPED],
    ids=["127.0.0.1", "::1", "::ffff:127.0.0.1"],
)
def test_loopback_needs_no_token(book: Ledger, client: tuple[str, int]) -> None:
    answer = get(book, client)
    assert answer.status_code == 200
    assert "workbench_database_up 1.0" in answer.text


def test_outside_without_a_configured_token_is_forbidden(book: Ledger) -> None:
    assert_refused(get(book, OUTSIDE), 403)
    assert_refused(get(book, OUTSIDE_MAPPED), 403)
    # Even one that guesses a token: there is none to match.
    assert_refused(get(book, OUTSIDE, headers={"Authorization": "Bearer anything"}), 403)


def test_outside_with_the_token_may_scrape(book: Ledger) -> None:
    answer = get(book, OUTSIDE, token=TOKEN, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert "workbench_database_up 1.0" in answer.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0000", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ", TOKEN],
)
def test_outside_without_the_right_token_is_unauthorised(
    book: Ledger, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else None
    answer = get(book, OUTSIDE, token=TOKEN, headers=headers)
    assert_refused(answer, 401)
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"])
def test_loopback_through_a_proxy_needs_the_token(book: Ledger, header: str) -> None:
    # A reverse proxy on the same machine makes every visitor a loopback client.
    through_proxy = {header: "203.0.113.9"}
    assert_refused(get(book, LOOPBACK_V4, headers=through_proxy), 403)
    assert_refused(get(book, LOOPBACK_V4, token=TOKEN, headers=through_proxy), 401)
    allowed = get(
        book,
        LOOPBACK_V4,
        token=TOKEN,
        headers={**through_proxy, "Authorization": f"Bearer {TOKEN}"},
    )
    assert allowed.status_code == 200
