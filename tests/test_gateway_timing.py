"""Timeouts, retries and the hold TTL: the TTL is derived from litellm's timeout and retries so a
slow but successful call is captured before its hold can expire, and a stream that outlives the
call's deadline is stopped and charged for what was streamed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.amounts import credits
from ledger.pricing import token_cost
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.fake_providers import FakeProvider, slow_stream
from tests.gateway_harness import HarnessFactory, ask
from workbench.gateway import tokens
from workbench.gateway.facade import SETTLE_MARGIN, Timing


@pytest.mark.parametrize(("timeout", "retries"), [(60.0, 2), (0.5, 0), (120.0, 5)])
def test_the_hold_outlives_every_attempt_and_its_settlement(timeout: float, retries: int) -> None:
    timing = Timing(timeout, retries)
    attempts = timedelta(seconds=timeout * (1 + retries))
    assert timing.deadline >= attempts
    assert timing.hold_ttl == timing.deadline + SETTLE_MARGIN


def test_the_default_hold_ttl() -> None:
    assert Timing(60.0, 2).hold_ttl == timedelta(seconds=60 * 3 + 10 * 2 + 60)


def test_holds_are_reserved_with_the_derived_ttl_and_rate_window(
    make_harness: HarnessFactory, clock: FakeClock
) -> None:
    h = make_harness(
        credits(5_000), provider_timeout_s=30, provider_max_retries=1, rate_limit_concurrent=2
    )
    turn = h.gateway.chat(h.caller, ask("hi"), key="ttl-1", model="openai/gpt-4o-mini")
    assert turn.hold is not None
    assert turn.hold.expires_at - turn.hold.created_at == Timing(30, 1).hold_ttl
    assert h.gateway.limits is not None
    assert h.gateway.limits.in_flight_window == Timing(30, 1).deadline
    "".join(turn)
    h.check_accounting(clock.now)


def test_a_stream_past_its_deadline_is_stopped_and_charged_for_what_arrived(
    make_harness: HarnessFactory, ledger: Ledger, fake_provider: FakeProvider, clock: FakeClock
) -> None:
    # Each chunk arrives well within the per-read timeout, but the whole reply would take 6 s
    # against a 0.4 s deadline (one attempt, no retries).
    h = make_harness(credits(5_000), provider_timeout_s=0.4, provider_max_retries=0)
    fake_provider.program(slow_stream(0.1, reply_words=60))
    turn = h.gateway.chat(h.caller, ask("a long story"), key="late-1", model="openai/gpt-4o-mini")

    text = "".join(turn)

    result = turn.result
    assert result is not None and result.status == "cancelled"
    assert 0 < len(text.split()) < 60
    assert turn.estimate is not None
    output = tokens.text_tokens("openai/gpt-4o-mini", text)
    price = ledger.price("openai/gpt-4o-mini")
    assert result.credits == token_cost(price, turn.estimate.prompt_tokens, output)
    [row] = h.usage_rows()
    assert (row.status, row.error_type) == ("cancelled", "DeadlineExceeded")
    h.check_accounting(clock.now)
