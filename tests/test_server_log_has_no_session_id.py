"""Streamlit's session id never appears in the server's log.

A session id is enough to be reconnected to that session (it is the third entry of the
websocket's subprotocols), so a log reader must not learn one. The server here is the real app,
its console (stdout and stderr) captured whole, with Streamlit logging at debug level, where it
names sessions most. A websocket client drives a session as the browser does, including the
reconnect-with-the-old-id the frontend makes after a dropped connection, which Streamlit logs as
a warning at every level.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from tests.browser_harness import AppServer, start_app
from tests.streamlit_socket import streamlit_socket
from workbench.web import log_redaction

RECONNECT_WARNING = "is already connected! Reconnecting to existing session"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLIT_LOGGER_LEVEL", "debug")
        server = start_app(tmp_path_factory.mktemp("session-id-log"))
    try:
        yield server
    finally:
        server.stop()


def wait_for_output(server: AppServer, text: str, timeout_s: float = 30.0) -> str:
    """The console once ``text`` has reached it (it comes through a pipe, a moment later)."""
    deadline = time.monotonic() + timeout_s
    while text not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    return server.output()


def test_a_driven_session_leaves_its_id_out_of_the_log(app: AppServer) -> None:
    with streamlit_socket(app.url) as first:
        first.run()
        session_id = first.session_id
        assert session_id, "the server never said which session this is"
        with streamlit_socket(app.url, session_id=session_id) as again:
            again.run()
            again.clear_cache()
            again.run()
    log = wait_for_output(app, RECONNECT_WARNING)
    # The line that names the session was written: the id is missing from it, not the line.
    assert RECONNECT_WARNING in log
    assert session_id not in log
    assert session_id.replace("-", "") not in log


def test_an_access_log_line_for_an_upload_url_hides_the_session_id() -> None:
    # Streamlit turns uvicorn's access log off, but a deployment that serves the app with plain
    # uvicorn has it on, and upload URLs carry the session id.
    log_redaction.install()
    session_id = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "PUT", f"/_stcore/upload_file/{session_id}/file-1", "1.1", 204),
        None,
    )
    line = AccessFormatter(use_colors=False).format(record)
    assert "/_stcore/upload_file/<id " in line and '" 204' in line
    assert session_id not in line
