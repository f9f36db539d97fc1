"""A read timeout once the stream is open (a slow first token, or a stall mid-reply) is a
``timeout`` on every provider: the outcome is unknown, so the hold stays until it expires.

litellm hands Anthropic's read timeout back wrapped (``MidStreamFallbackError`` around
``litellm.Timeout``) and OpenAI's bare; before the gateway looked inside the wrapper, the same
fault was an ``error`` with the hold released at once on Anthropic and a ``timeout`` on OpenAI.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.service import Ledger
from tests.fake_providers import Behaviour, slow_stream, stall
from tests.gateway_harness import Harness, HarnessFactory, ask
from workbench.gateway.errors import ProviderFailed

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
TIMEOUT_S = 0.5
QUIET_S = 3.0  # far past the read timeout: the client gives up long before the server goes on


@pytest.fixture
def quick(make_harness: HarnessFactory) -> Harness:
    return make_harness(provider_timeout_s=TIMEOUT_S)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        # Headers at once, then nothing before the read timeout: the first token is late.
        pytest.param(slow_stream(QUIET_S, reply_words=8), "", id="slow-first-token"),
        # Three words, then the connection stays open and silent past the read timeout.
        pytest.param(stall(3, QUIET_S, reply_words=20), "Fake reply to: ", id="stall-mid-reply"),
    ],
)
def test_a_read_timeout_in_the_stream_keeps_the_hold_until_it_expires(
    quick: Harness, model: str, fault: Behaviour, shown: str
) -> None:
    quick.fake.program(fault)
    start = quick.balance_and_held()
    turn = quick.gateway.chat(quick.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None
    hold_id = turn.hold.id

    pieces: list[str] = []
    with pytest.raises(ProviderFailed) as caught:
        for piece in turn:
            pieces.append(piece)

    assert "".join(pieces) == shown
    failure = caught.value
    assert failure.fields["status"] == "timeout"
    assert failure.fields["settlement"] == "held until expiry"
    assert failure.fields["error_type"] == "Timeout"
    assert "did not answer in time" in failure.message
    assert turn.result is not None
    assert (turn.result.status, turn.result.credits) == ("timeout", 0)

    # The outcome is unknown: nothing captured, nothing released, the credits still held.
    hold = quick.ledger.hold(hold_id)
    assert hold.status == "pending"
    assert quick.entry_kinds(hold_id) == {"hold": 1}
    assert quick.balance_and_held() == (start[0], hold.amount)
    [row] = quick.usage_rows()
    assert (row.hold_id, row.status, row.credits, row.error_type) == (
        hold_id,
        "timeout",
        0,
        "Timeout",
    )
    # Once the stream is open there is no second attempt: the provider may be billing this one.
    assert quick.hold_ids_sent() == {hold_id: 1}

    # The sweeper gives the credits back when the hold expires, and not before.
    Ledger(quick.ledger.engine, clock=lambda: hold.expires_at - timedelta(seconds=1)).sweep()
    assert quick.ledger.hold(hold_id).status == "pending"
    Ledger(quick.ledger.engine, clock=lambda: hold.expires_at + timedelta(seconds=1)).sweep()
    assert quick.ledger.hold(hold_id).status == "expired"
    assert quick.entry_kinds(hold_id) == {"hold": 1, "expire": 1}
    assert quick.balance_and_held() == (start[0], 0)
    assert len(quick.usage_rows()) == 1
