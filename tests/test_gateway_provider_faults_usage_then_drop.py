"""A stream that delivered its whole reply, its finish reason and the provider's usage, and then
lost its connection (or went quiet past the read timeout) before the last event (OpenAI's
``data: [DONE]``, Anthropic's ``message_stop``), is charged the usage the provider reported (at
most the hold): the provider bills it, and the person has the whole reply. The usage row says
``ok`` and names what came after in its ``error_type``. Before, it was released with nothing
charged.

A drop *before* the provider reported usage is still an error with nothing charged
(``test_gateway_provider_failures.py``, the stream cut midway).
"""

from __future__ import annotations

import pytest

from ledger.pricing import token_cost
from tests.fake_providers import cut_at_end, reply_for
from tests.gateway_harness import Harness, HarnessFactory, ask

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
TIMEOUT_S = 0.5


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("quiet_s", "after"),
    [
        pytest.param(0.0, "MidStreamFallbackError", id="dropped"),
        # Silent past the read timeout, then dropped: a timeout, but the outcome is known.
        pytest.param(TIMEOUT_S * 6, "Timeout", id="stalled"),
    ],
)
def test_usage_reported_before_the_drop_is_charged(
    make_harness: HarnessFactory, model: str, quiet_s: float, after: str
) -> None:
    harness = make_harness(provider_timeout_s=TIMEOUT_S)
    harness.fake.program(cut_at_end(quiet_s, reply_words=9, prompt_tokens=120, completion_tokens=9))
    start = harness.balance_and_held()
    turn = harness.gateway.chat(harness.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None
    hold_id = turn.hold.id

    text = "".join(turn)  # no ProviderFailed: the reply is whole

    assert text == reply_for(ask("Hello there"), reply_words=9)
    [sent] = harness.fake.api_requests()
    assert sent.behaviour == "cut_at_end"
    assert sent.reported_usage == {"prompt_tokens": 120, "completion_tokens": 9, "cached_tokens": 0}
    expected = token_cost(harness.ledger.price(model), 120, 9)
    assert 0 < expected < turn.hold.amount
    result = turn.result
    assert result is not None
    assert (result.status, result.credits, result.text) == ("ok", expected, text)
    assert (result.usage.input_tokens, result.usage.output_tokens) == (120, 9)

    hold = harness.ledger.hold(hold_id)
    assert (hold.status, hold.captured) == ("captured", expected)
    assert harness.entry_kinds(hold_id) == {"hold": 1, "capture": 1, "release": 1}
    assert harness.balance_and_held() == (start[0] - expected, 0)
    [row] = harness.usage_rows()
    assert (row.hold_id, row.status, row.credits) == (hold_id, "ok", expected)
    assert (row.input_tokens, row.output_tokens) == (120, 9)
    # Honest about what happened after the usage: the drop is on the row.
    assert row.error_type == after
    assert row.error_message is not None and "after the provider reported" in row.error_message
    assert harness.hold_ids_sent() == {hold_id: 1}


@pytest.mark.parametrize("model", MODELS)
def test_reported_usage_above_the_hold_is_charged_the_hold(harness: Harness, model: str) -> None:
    # A provider that reports more than the hold could pay for is charged the hold, never more.
    harness.fake.program(cut_at_end(reply_words=4, prompt_tokens=50, completion_tokens=900_000))
    start = harness.balance_and_held()
    turn = harness.gateway.chat(
        harness.caller, ask("Hello there"), key="k1", model=model, max_tokens=50
    )
    assert turn.hold is not None

    "".join(turn)

    assert turn.result is not None
    assert (turn.result.status, turn.result.credits) == ("ok", turn.hold.amount)
    assert harness.ledger.hold(turn.hold.id).captured == turn.hold.amount
    assert harness.entry_kinds(turn.hold.id) == {"hold": 1, "capture": 1}
    assert harness.balance_and_held() == (start[0] - turn.hold.amount, 0)
    [row] = harness.usage_rows()
    assert (row.status, row.credits, row.output_tokens) == ("ok", turn.hold.amount, 900_000)
