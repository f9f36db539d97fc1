"""Retries wait: every provider's retry honours ``Retry-After`` (seconds or an HTTP date) and
otherwise backs off exponentially, within 1 + retries attempts and inside the hold's TTL.

The loopback server stamps when each request had arrived and when it began answering; the client
cannot have read a failure before the server began sending it, nor sent its retry after the server
had it, so ``retry.received_at - failure.answered_at`` is a lower bound on how long the client
really waited. Each assertion is that causal bound, never a speed threshold. (Before this, the
Anthropic retries came 5-20 ms after a 429 with ``Retry-After: 0.3`` and after a 529/503: litellm
replaced the configured backoff with its own loop for that provider.)
"""

from __future__ import annotations

import math
import time
from email.utils import formatdate

import pytest

from ledger.pricing import token_cost
from tests.fake_providers import Behaviour, Recorded, error, ok
from tests.gateway_harness import Harness, HarnessFactory, ask
from workbench.gateway.errors import ProviderFailed
from workbench.gateway.retries import BACKOFF_FIRST_S, RETRY_WAIT_CAP_S

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
IMAGE_MODEL = "openai/dall-e-2"


def waited(earlier: Recorded, later: Recorded) -> float:
    """At least how long the client waited between reading ``earlier``'s answer and sending
    ``later``."""
    assert earlier.answered_at is not None
    return later.received_at - earlier.answered_at


def answered_in_full(h: Harness, model: str, prompt: int, completion: int) -> None:
    """The call that finally worked is charged once, for the usage the provider reported."""
    [hold] = h.holds()
    expected = token_cost(h.ledger.price(model), prompt, completion)
    assert (hold.status, hold.captured) == ("captured", expected)
    ends = {"hold": 1, "capture": 1} | ({"release": 1} if hold.amount > expected else {})
    assert h.entry_kinds(hold.id) == ends
    [row] = h.usage_rows()
    assert (row.status, row.credits, row.hold_id) == ("ok", expected, hold.id)


@pytest.mark.parametrize("model", MODELS)
def test_a_retry_after_in_seconds_is_waited_for(harness: Harness, model: str) -> None:
    harness.fake.program(
        error(429, retry_after=0.3), ok(reply_words=5, prompt_tokens=40, completion_tokens=5)
    )

    text = "".join(harness.gateway.chat(harness.caller, ask("Hi"), key="k1", model=model))

    assert text.startswith("Fake reply to: Hi")
    first, second = harness.fake.api_requests()
    assert (first.behaviour, second.behaviour) == ("error", "ok")
    assert waited(first, second) >= 0.3
    answered_in_full(harness, model, 40, 5)


@pytest.mark.parametrize("model", MODELS)
def test_a_retry_after_as_an_http_date_is_waited_for(harness: Harness, model: str) -> None:
    # A whole second, so the date's one-second resolution loses nothing.
    not_before = math.ceil(time.time()) + 1
    harness.fake.program(
        error(503, retry_after=formatdate(not_before, usegmt=True)),
        ok(reply_words=5, prompt_tokens=40, completion_tokens=5),
    )

    "".join(harness.gateway.chat(harness.caller, ask("Hi"), key="k1", model=model))

    first, second = harness.fake.api_requests()
    assert (first.behaviour, second.behaviour) == ("error", "ok")
    assert second.received_wall >= not_before
    answered_in_full(harness, model, 40, 5)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("status", [503, 529, 500])
def test_without_retry_after_the_retries_back_off_exponentially(
    make_harness: HarnessFactory, model: str, status: int
) -> None:
    h = make_harness(provider_max_retries=2)
    h.fake.program(
        error(status), error(status), ok(reply_words=5, prompt_tokens=40, completion_tokens=5)
    )

    "".join(h.gateway.chat(h.caller, ask("Hi"), key="k1", model=model))

    first, second, third = h.fake.api_requests()
    assert [r.behaviour for r in (first, second, third)] == ["error", "error", "ok"]
    assert waited(first, second) >= BACKOFF_FIRST_S
    assert waited(second, third) >= 2 * BACKOFF_FIRST_S
    answered_in_full(h, model, 40, 5)


@pytest.mark.parametrize("model", MODELS)
def test_retries_stop_at_one_plus_retries_attempts_each_after_its_wait(
    harness: Harness, model: str
) -> None:
    failures: tuple[Behaviour, ...] = (error(429, retry_after=0.2),) * 3
    harness.fake.program(*failures)
    start = harness.balance_and_held()
    turn = harness.gateway.chat(harness.caller, ask("Hi"), key="k1", model=model)
    assert turn.hold is not None

    with pytest.raises(ProviderFailed) as caught:
        "".join(turn)

    assert caught.value.fields["settlement"] == "released"
    first, second = harness.fake.api_requests()  # 1 + 1 retry: the third 429 is never asked for
    assert harness.fake.pending == 1
    assert waited(first, second) >= 0.2
    assert harness.entry_kinds(turn.hold.id) == {"hold": 1, "release": 1}
    assert harness.balance_and_held() == (start[0], 0)
    [row] = harness.usage_rows()
    assert (row.status, row.credits, row.error_type) == ("error", 0, "RateLimitError")


@pytest.mark.parametrize("model", MODELS)
def test_a_retry_after_longer_than_the_hold_allows_is_not_waited_for(
    harness: Harness, model: str
) -> None:
    # Waiting this long would run past the hold's TTL, which allows RETRY_WAIT_CAP_S per retry:
    # the call fails now, with the provider's own error, instead of retrying late.
    harness.fake.program(error(429, retry_after=RETRY_WAIT_CAP_S * 6), ok())
    start = harness.balance_and_held()
    turn = harness.gateway.chat(harness.caller, ask("Hi"), key="k1", model=model)
    assert turn.hold is not None

    with pytest.raises(ProviderFailed) as caught:
        "".join(turn)

    assert caught.value.fields["error_type"] == "RateLimitError"
    assert [r.behaviour for r in harness.fake.api_requests()] == ["error"]
    assert harness.fake.pending == 1
    assert harness.entry_kinds(turn.hold.id) == {"hold": 1, "release": 1}
    assert harness.balance_and_held() == (start[0], 0)
    [row] = harness.usage_rows()
    assert (row.status, row.credits) == ("error", 0)


def test_image_retries_back_off_exponentially_too(make_harness: HarnessFactory) -> None:
    h = make_harness(provider_max_retries=2)
    h.fake.program(error(503), error(503), ok())

    result = h.gateway.generate_images(
        h.caller, "a fox", key="img1", model=IMAGE_MODEL, n=1, size="256x256"
    )

    assert (result.status, len(result.images)) == ("ok", 1)
    first, second, third = h.fake.api_requests()
    assert waited(first, second) >= BACKOFF_FIRST_S
    assert waited(second, third) >= 2 * BACKOFF_FIRST_S
    per_image = h.ledger.price(IMAGE_MODEL).images[("256x256", "standard")]
    assert result.credits == per_image
    assert h.entry_kinds(result.hold_id) == {"hold": 1, "capture": 1}
    assert h.hold_ids_sent() == {result.hold_id: 3}
