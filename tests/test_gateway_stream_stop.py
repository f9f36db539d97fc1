"""A person stopping a stream is charged the prompt plus what was streamed (the rest released) and
the provider call is ended; a turn never streamed is released if closed, or expires if dropped."""

from __future__ import annotations

import gc
import itertools
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from ledger.pricing import token_cost
from ledger.schema import entries
from tests.conftest import FakeClock
from tests.fake_providers import FakeProvider, slow_stream
from tests.gateway_harness import Harness, HarnessFactory, ask
from workbench.gateway import tokens
from workbench.gateway.chat_turn import ChatTurn

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
# Room for a long reply, so the hold is well above what a stopped stream costs.
MAX_TOKENS = 4000
TAKE = 3  # pieces the person sees before pressing stop


def entry_kinds(h: Harness, hold_id: int) -> Counter[str]:
    with h.ledger.engine.connect() as conn:
        return Counter(
            conn.execute(sa.select(entries.c.kind).where(entries.c.hold_id == hold_id)).scalars()
        )


def balance_of(h: Harness) -> tuple[int, int]:
    b = h.ledger.balance(h.caller.account_id)
    return b.balance, b.held


def stop_after(turn: ChatTurn, n: int) -> list[str]:
    """Take ``n`` pieces of the stream, then close it as ``st.write_stream`` does on a rerun."""
    stream = iter(turn)
    pieces = list(itertools.islice(stream, n))
    stream.close()  # type: ignore[attr-defined]
    return pieces


def assert_charged_for_what_was_streamed(
    h: Harness, turn: ChatTurn, pieces: list[str], start: tuple[int, int]
) -> int:
    """The stop policy: captured = prompt estimate + streamed text, counted; rest released."""
    assert turn.hold is not None and turn.estimate is not None
    streamed = "".join(pieces)
    model = turn.estimate.model
    output = tokens.text_tokens(model.litellm_model, streamed)
    assert output > 0
    price = h.ledger.price(model.id)
    expected = min(token_cost(price, turn.estimate.prompt_tokens, output), turn.hold.amount)

    result = turn.result
    assert result is not None
    assert result.status == "cancelled"
    assert result.text == streamed
    assert (result.usage.input_tokens, result.usage.output_tokens) == (
        turn.estimate.prompt_tokens,
        output,
    )
    assert result.credits == expected
    assert result.message is not None and "Stopped" in result.message

    hold = h.ledger.hold(turn.hold.id)
    assert (hold.status, hold.captured) == ("captured", expected)
    ends = {"hold": 1, "capture": 1} | ({"release": 1} if hold.amount > expected else {})
    assert entry_kinds(h, hold.id) == ends
    assert balance_of(h) == (start[0] - expected, 0)

    [row] = h.usage_rows()
    assert (row.status, row.credits, row.hold_id) == ("cancelled", expected, hold.id)
    assert (row.input_tokens, row.output_tokens) == (turn.estimate.prompt_tokens, output)
    assert row.error_type is None
    return expected


@pytest.mark.parametrize("model", MODELS)
def test_stopping_a_stream_charges_what_was_streamed_and_ends_the_call(
    harness: Harness, model: str
) -> None:
    # 60 words at 50 ms an event: about 3 s if it ran to the end.
    harness.fake.program(slow_stream(0.05, reply_words=60))
    start = balance_of(harness)
    turn = harness.gateway.chat(
        harness.caller, ask("Tell me a long story"), key="k1", model=model, max_tokens=MAX_TOKENS
    )
    assert turn.hold is not None

    pieces = stop_after(turn, TAKE)
    stopped = time.monotonic()

    assert "".join(pieces) == "Fake reply to: "
    charged = assert_charged_for_what_was_streamed(harness, turn, pieces, start)
    assert charged < turn.hold.amount
    assert entry_kinds(harness, turn.hold.id)["release"] == 1  # the unused remainder

    # The provider saw the client go away long before the reply would have ended.
    [request] = harness.fake.api_requests()
    assert request.finished.wait(5)
    assert request.client_gone.is_set()
    assert time.monotonic() - stopped < 1.5
    assert harness.hold_ids_sent() == {turn.hold.id: 1}


def test_stopping_a_demo_stream_charges_what_was_streamed(
    make_harness: HarnessFactory, fake_provider: FakeProvider, clock: FakeClock
) -> None:
    h = make_harness(demo_stream_delay_s=0.01)
    start = balance_of(h)
    turn = h.gateway.chat(h.caller, ask("Explain tides and moons"), key="k1", model="demo/chat")

    pieces = stop_after(turn, TAKE)

    assert len(pieces) == TAKE
    assert_charged_for_what_was_streamed(h, turn, pieces, start)
    assert fake_provider.api_requests() == []
    h.check_accounting(clock.now)


def test_a_turn_closed_before_streaming_releases_its_hold_and_sends_nothing(
    harness: Harness,
) -> None:
    start = balance_of(harness)
    turn = harness.gateway.chat(
        harness.caller, ask("Hello there"), key="k1", model="openai/gpt-4o-mini"
    )
    assert turn.hold is not None
    assert balance_of(harness) == (start[0], turn.hold.amount)

    turn.close()

    hold = harness.ledger.hold(turn.hold.id)
    assert hold.status == "released"
    assert hold.release_reason is not None and "not sent" in hold.release_reason
    assert entry_kinds(harness, hold.id) == {"hold": 1, "release": 1}
    assert balance_of(harness) == (start[0], 0)
    [row] = harness.usage_rows()
    assert (row.status, row.error_type, row.credits, row.hold_id) == (
        "error",
        "NotSent",
        0,
        hold.id,
    )
    # Streaming it afterwards does nothing: no request, no second settlement.
    assert list(turn) == []
    turn.close()
    assert harness.fake.api_requests() == []
    assert len(harness.usage_rows()) == 1
    assert entry_kinds(harness, hold.id) == {"hold": 1, "release": 1}


def test_a_dropped_turn_is_released_as_never_sent(harness: Harness) -> None:
    """A rerun between reserving and streaming drops the turn: its hold comes back at once."""
    start = balance_of(harness)
    turn = harness.gateway.chat(
        harness.caller, ask("Hello there"), key="k1", model="openai/gpt-4o-mini"
    )
    assert turn.hold is not None
    hold_id = turn.hold.id
    assert balance_of(harness) == (start[0], turn.hold.amount)

    del turn
    gc.collect()

    assert harness.ledger.hold(hold_id).status == "released"
    assert entry_kinds(harness, hold_id) == {"hold": 1, "release": 1}
    assert balance_of(harness) == start
    assert harness.fake.api_requests() == []
    usage = harness.ledger.usage_for_hold(hold_id)
    assert usage is not None and (usage.status, usage.error_type) == ("error", "NotSent")
