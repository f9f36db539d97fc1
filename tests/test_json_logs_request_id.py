"""The real app's console is JSON lines, and one request id ties each call together.

A chat turn and an image call are driven over the websocket as the browser drives them. Parsed
back from the server's stdout and stderr: the call's lines (hold reserved, provider call started
and ended, usage row written) share one request id, the hold id the database gave the call and
the idempotency key its usage row records; a second call has another request id. What the person
typed and what the model replied appear nowhere in the console. Streamlit's own lines are JSON
too (a reconnect with an old session id makes it warn), with the session id redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser_harness import AppServer, app_fixture
from tests.observability_harness import (
    app_database,
    generate_image,
    hold_ids_after,
    json_lines,
    last_hold_id,
    member_socket,
    send_chat,
    usage_rows,
    wait_for_line,
)
from tests.streamlit_socket import streamlit_socket
from workbench.db.schema import messages

app = app_fixture(stream_delay_s=0.0, extra_env={"WORKBENCH_RATE_LIMIT_PER_MINUTE": "0"})

CALL_LINES = (
    "hold reserved",
    "provider call started",
    "provider call ended",
    "usage row written",
)
# Streamlit's own text format (``logger.messageFormat``): what its lines looked like before.
STREAMLIT_TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")
RECONNECT_WARNING = "is already connected! Reconnecting to existing session"


@pytest.fixture
def database(app: AppServer) -> Iterator[sa.Engine]:
    with app_database(app) as engine:
        yield engine


def lines_of_hold(app: AppServer, hold_id: int) -> list[dict[str, Any]]:
    lines = wait_for_line(
        app,
        lambda line: (
            line.get("hold_id") == hold_id
            and str(line.get("message", "")).startswith("usage row written")
        ),
    )
    return [line for line in lines if line.get("hold_id") == hold_id]


def assert_one_call(lines: list[dict[str, Any]], hold_id: int, key: str) -> str:
    """The call's four lines are there, in order, all with one request id, its hold and key."""
    assert lines, f"no log line names hold {hold_id}"
    [request_id] = {line.get("request_id") for line in lines}
    assert re.fullmatch(r"[0-9a-f]{32}", str(request_id))
    assert {line.get("idempotency_key") for line in lines} == {key}
    said = [str(line["message"]) for line in lines]
    firsts = [next(i for i, m in enumerate(said) if m.startswith(kind)) for kind in CALL_LINES]
    assert firsts == sorted(firsts), said
    for line in lines:
        assert line["logger"].startswith("workbench.")
        assert line["time"].endswith("+00:00")  # UTC
    return str(request_id)


def test_a_chat_turn_is_tied_together_by_one_request_id(
    app: AppServer, database: sa.Engine
) -> None:
    first_new = last_hold_id(database)
    typed = "Plan the Kilimanjaro-19 offsite for the finance team"
    with member_socket(app) as socket:
        send_chat(socket, typed)
        send_chat(socket, "And a second question about Kilimanjaro-19")
    first, second = hold_ids_after(database, first_new)
    rows = usage_rows(database, [first, second])
    with database.connect() as conn:
        reply = conn.execute(
            sa.select(messages.c.content).where(messages.c.hold_id == first)
        ).scalar_one()

    ids = [
        assert_one_call(lines_of_hold(app, row.hold_id), row.hold_id, row.idempotency_key)
        for row in rows
    ]
    assert ids[0] != ids[1]  # each call its own request id
    output = app.output()
    assert "Kilimanjaro" not in output
    # The reply's own sentences (the demo's reply quotes the prompt, and says more).
    sentences = [s for s in reply.splitlines() if len(s) > 25 and "Kilimanjaro" not in s]
    assert sentences, reply
    for sentence in sentences:
        assert sentence not in output


def test_an_image_call_is_tied_together_by_one_request_id(
    app: AppServer, database: sa.Engine
) -> None:
    first_new = last_hold_id(database)
    with member_socket(app) as socket:
        generate_image(socket, "A watercolour of the Ngorongoro-23 crater")
    [hold_id] = hold_ids_after(database, first_new)
    [row] = usage_rows(database, [hold_id])

    assert_one_call(lines_of_hold(app, hold_id), hold_id, row.idempotency_key)
    assert "Ngorongoro" not in app.output()


def test_streamlit_lines_are_json_without_the_session_id(app: AppServer) -> None:
    with streamlit_socket(app.url) as first:
        first.run()
        session_id = first.session_id
        with streamlit_socket(app.url, session_id=session_id) as again:
            again.run()
    lines = wait_for_line(app, lambda line: RECONNECT_WARNING in str(line.get("message")))
    [warning, *_] = [line for line in lines if RECONNECT_WARNING in str(line.get("message"))]
    assert warning["logger"].startswith("streamlit")
    assert warning["level"] == "WARNING"
    output = app.output()
    assert session_id not in output
    # Every log line is JSON: none in Streamlit's own text format is left.
    assert not [line for line in output.splitlines() if STREAMLIT_TEXT_LINE.match(line)]
    assert len(json_lines(output)) > 0
