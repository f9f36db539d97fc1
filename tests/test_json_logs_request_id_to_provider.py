"""The provider sees the call's request id (``X-Request-Id``), the same one its log lines carry.

The gateway calls the loopback fake OpenAI and Anthropic servers through litellm; the gateway's
lines are caught by the workbench's own JSON handler (``logs.handler``). Retries of one call
send the same id; each call has its own.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_providers import error, ok
from tests.gateway_harness import Harness, ask
from workbench.gateway.facade import HOLD_HEADER, REQUEST_ID_HEADER
from workbench.observability import logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The gateway's log lines, as the app's JSON handler writes them."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    logger = logging.getLogger("workbench.gateway")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def request_ids_logged(stream: io.StringIO, hold_id: int) -> set[str]:
    return {line["request_id"] for line in lines(stream) if line.get("hold_id") == hold_id}


def sent(h: Harness, header: str) -> list[str]:
    return [r.headers[header.lower()] for r in h.fake.api_requests()]


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"])
def test_each_chat_turn_sends_its_logged_request_id(
    harness: Harness, captured: io.StringIO, model: str
) -> None:
    h = harness
    # The first turn is retried once: both attempts carry its id.
    h.fake.program(error(500), ok(), ok())
    first = h.gateway.chat(h.caller, ask("one"), key="rid-1", model=model)
    "".join(first)
    second = h.gateway.chat(h.caller, ask("two"), key="rid-2", model=model)
    "".join(second)
    assert first.hold is not None and second.hold is not None

    [first_id] = request_ids_logged(captured, first.hold.id)
    [second_id] = request_ids_logged(captured, second.hold.id)
    assert first_id != second_id
    assert sent(h, REQUEST_ID_HEADER) == [first_id, first_id, second_id]
    assert sent(h, HOLD_HEADER) == [str(first.hold.id)] * 2 + [str(second.hold.id)]


def test_an_image_call_sends_its_logged_request_id(harness: Harness, captured: io.StringIO) -> None:
    h = harness
    result = h.gateway.generate_images(
        h.caller, "a red square", key="rid-img", model="openai/dall-e-2"
    )

    [request_id] = request_ids_logged(captured, result.hold_id)
    assert sent(h, REQUEST_ID_HEADER) == [request_id]
    said = [line["message"] for line in lines(captured) if line.get("request_id") == request_id]
    assert [m.split(":")[0] for m in said] == [
        "hold reserved",
        "provider call started",
        "provider call ended",
        "usage row written",
    ]
