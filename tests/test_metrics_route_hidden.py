"""``/_stcore/metrics`` is unreachable from outside: a plain 404 for every method and spelling,
with a session open, while the rest of ``/_stcore`` answers as before.

Streamlit serves it to anyone, signed in or not, with its internal metric names and the number of
sessions (``session_events_total``, ``active_sessions``, ``cache_memory_bytes``…).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.browser_harness import AppServer, app_fixture
from tests.streamlit_socket import streamlit_socket

app = app_fixture()

REQUESTS = {
    "GET": ("GET", "/_stcore/metrics", {}),
    "GET as protobuf": ("GET", "/_stcore/metrics", {"Accept": "application/x-protobuf"}),
    "GET one family": ("GET", "/_stcore/metrics?families=session_events_total", {}),
    "HEAD": ("HEAD", "/_stcore/metrics", {}),
    "OPTIONS (CORS preflight)": ("OPTIONS", "/_stcore/metrics", {"Origin": "http://x.example"}),
    "a trailing slash": ("GET", "/_stcore/metrics/", {}),
}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, follow_redirects=True, timeout=30) as opened:
        yield opened


@pytest.mark.parametrize("name", list(REQUESTS))
def test_metrics_answer_not_found_with_a_session_open(
    name: str, app: AppServer, client: httpx.Client
) -> None:
    method, path, request_headers = REQUESTS[name]
    with streamlit_socket(app.url) as session:
        session.run()
        answer = client.request(method, app.url + path, headers=request_headers)
    assert answer.status_code == 404, f"{name}: {answer.status_code}"
    for internal in ("session", "cache_memory", "# TYPE", "# EOF"):
        assert internal not in answer.text
    assert "access-control-allow-origin" not in answer.headers
    # Only that route: the rest of /_stcore answers as before.
    assert client.get(app.url + "/_stcore/health").status_code == 200
