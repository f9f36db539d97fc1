"""Every way a call can end is counted once, under its own labels, in what ``/metrics`` serves.

The gateway talks to the loopback fake OpenAI and Anthropic servers through litellm, on both
backends. What is checked is the exposition the route would send (``metrics_route.registry``
over this test's database, encoded and parsed back), before and after each call: refusals by
their reason with nothing charged, provider errors by their error class, a timeout (its hold
counted open, from the database, until it expires), a stopped stream charged what was streamed,
a turn closed before it was sent, and the sum of all calls equal to the usage rows written.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client.exposition import generate_latest

from ledger.errors import InsufficientCredits
from ledger.service import Ledger
from tests.fake_providers import error, hang, ok
from tests.gateway_harness import Harness, HarnessFactory, ask
from tests.observability_harness import Scrape, parse
from workbench.gateway.errors import FeatureDisabled, ProviderFailed
from workbench.gateway.requests import CHAT_FEATURE
from workbench.web import metrics_route

MODEL = "openai/gpt-4o-mini"
CHAT = {"model": MODEL, "feature": CHAT_FEATURE}
CALLS = "workbench_calls_total"
CREDITS = "workbench_credits_captured_micros_total"
REFUSALS = "workbench_refusals_total"
ERRORS = "workbench_provider_errors_total"
LATENCY = "workbench_call_latency_seconds_count"
TTFT = "workbench_time_to_first_token_seconds_count"
OPEN = "workbench_holds_open"


def scraped(h: Harness) -> Scrape:
    """What ``/metrics`` would answer now, with this test's database for the open holds."""
    return parse(generate_latest(metrics_route.registry(lambda: h.ledger.engine)).decode())


def grew(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def all_calls(seen: Scrape) -> float:
    return sum(value for (name, _), value in seen.samples.items() if name == CALLS)


def test_a_refusal_for_credits_counts_under_its_reason(make_harness: HarnessFactory) -> None:
    h = make_harness(micros=0)
    before = scraped(h)
    with pytest.raises(InsufficientCredits):
        h.gateway.chat(h.caller, ask("Hello there"), key="broke-1", model=MODEL)
    after = scraped(h)

    assert grew(before, after, REFUSALS, feature=CHAT_FEATURE, reason="InsufficientCredits") == 1
    assert grew(before, after, CALLS, status="refused", **CHAT) == 1
    assert all_calls(after) - all_calls(before) == 1
    assert grew(before, after, CREDITS, **CHAT) == 0
    assert grew(before, after, LATENCY, **CHAT) == 0
    # Nothing held, charged or sent: the refusal's usage row is all there is.
    assert h.holds() == [] and h.fake.api_requests() == []
    [row] = h.usage_rows()
    assert (row.status, row.error_type, row.credits) == ("refused", "InsufficientCredits", 0)


def test_a_switched_off_feature_counts_under_its_reason(harness: Harness) -> None:
    h = harness
    operator = h.ledger.create_user("metrics-operator")
    h.ledger.set_operator(operator.id, True, actor_user_id=None, reason="test operator")
    h.ledger.set_feature(CHAT_FEATURE, False, "maintenance", actor_user_id=operator.id)
    before = scraped(h)
    with pytest.raises(FeatureDisabled):
        h.gateway.chat(h.caller, ask("Hello there"), key="off-1", model=MODEL)
    after = scraped(h)

    assert grew(before, after, REFUSALS, feature=CHAT_FEATURE, reason="FeatureDisabled") == 1
    assert grew(before, after, CALLS, status="refused", **CHAT) == 1
    assert h.holds() == [] and h.fake.api_requests() == []


def test_a_provider_error_counts_under_its_class(harness: Harness) -> None:
    h = harness
    h.fake.program(error(500), error(500))
    before = scraped(h)
    turn = h.gateway.chat(h.caller, ask("Hello there"), key="fails-1", model=MODEL)
    with pytest.raises(ProviderFailed):
        list(turn)
    after = scraped(h)

    [row] = h.usage_rows()
    assert (row.status, row.error_type, row.credits) == ("error", "InternalServerError", 0)
    assert grew(before, after, ERRORS, model=MODEL, error_type="InternalServerError") == 1
    assert grew(before, after, CALLS, status="error", **CHAT) == 1
    assert grew(before, after, CALLS, status="ok", **CHAT) == 0
    assert grew(before, after, CREDITS, **CHAT) == 0
    assert grew(before, after, LATENCY, **CHAT) == 1  # how long it took to fail
    assert grew(before, after, TTFT, **CHAT) == 0  # no text ever came


def test_a_timeout_counts_and_its_hold_stays_open(make_harness: HarnessFactory) -> None:
    h = make_harness(provider_timeout_s=0.5)
    h.fake.program(hang(3.0), hang(3.0))
    before = scraped(h)
    turn = h.gateway.chat(h.caller, ask("Hello there"), key="hangs-1", model=MODEL)
    assert turn.hold is not None
    with pytest.raises(ProviderFailed):
        list(turn)
    after = scraped(h)

    [row] = h.usage_rows()
    assert row.status == "timeout"
    assert grew(before, after, CALLS, status="timeout", **CHAT) == 1
    assert grew(before, after, ERRORS, model=MODEL, error_type=row.error_type) == 1
    # The outcome is unknown, so the hold is kept: the gauge reads it from the database.
    assert after.value(OPEN, **CHAT) == 1
    assert after.value(f"{OPEN}_micros", **CHAT) == turn.hold.amount
    Ledger(h.ledger.engine, clock=lambda: turn.hold.expires_at + timedelta(seconds=1)).sweep()
    swept = scraped(h)
    assert swept.value(OPEN, **CHAT) == 0
    assert grew(after, swept, CALLS, status="timeout", **CHAT) == 0  # expiry is not a new call


def test_a_stopped_stream_counts_what_it_charged(harness: Harness) -> None:
    h = harness
    h.fake.program(ok(reply_words=40))
    before = scraped(h)
    turn = h.gateway.chat(h.caller, ask("Tell me a long story"), key="stops-1", model=MODEL)
    stream = iter(turn)
    next(stream)
    stream.close()  # the person pressed stop
    after = scraped(h)

    [row] = h.usage_rows()
    assert row.status == "cancelled" and row.credits > 0
    assert grew(before, after, CALLS, status="cancelled", **CHAT) == 1
    assert grew(before, after, CREDITS, **CHAT) == row.credits
    assert grew(before, after, TTFT, **CHAT) == 1
    assert sum(value for (name, _), value in after.samples.items() if name == ERRORS) == sum(
        value for (name, _), value in before.samples.items() if name == ERRORS
    )


def test_a_turn_closed_before_it_was_sent_is_no_provider_error(harness: Harness) -> None:
    h = harness
    before = scraped(h)
    turn = h.gateway.chat(h.caller, ask("Hello there"), key="unsent-1", model=MODEL)
    turn.close()  # a rerun between reserving and streaming
    after = scraped(h)

    [row] = h.usage_rows()
    assert (row.status, row.error_type) == ("error", "NotSent")
    assert grew(before, after, CALLS, status="error", **CHAT) == 1
    assert grew(before, after, ERRORS, model=MODEL, error_type="NotSent") == 0
    assert h.fake.api_requests() == []


def test_every_usage_row_is_one_call(make_harness: HarnessFactory) -> None:
    h = make_harness()
    h.fake.program(ok(prompt_tokens=20, completion_tokens=5), error(400), ok())
    before = scraped(h)
    "".join(h.gateway.chat(h.caller, ask("one"), key="mix-1", model=MODEL))
    with pytest.raises(ProviderFailed):
        list(h.gateway.chat(h.caller, ask("two"), key="mix-2", model=MODEL))
    "".join(h.gateway.chat(h.caller, ask("three"), key="mix-3", model="anthropic/claude-haiku-4-5"))
    h.gateway.chat(h.caller, ask("four"), key="mix-4", model=MODEL).close()
    # A replay of an answered key is no new call.
    h.gateway.chat(h.caller, ask("one"), key="mix-1", model=MODEL)
    images = h.gateway.generate_images(
        h.caller, "a red square", key="mix-5", model="openai/dall-e-2"
    )
    after = scraped(h)

    rows = h.usage_rows()
    assert len(rows) == 5
    assert all_calls(after) - all_calls(before) == len(rows)
    by_labels = Counter((row.model, row.feature_key, row.status) for row in rows)
    for (model, feature, status), n in by_labels.items():
        assert grew(before, after, CALLS, model=model, feature=feature, status=status) == n
    charged = Counter[tuple[str, str]]()
    for row in rows:
        charged[(row.model, row.feature_key)] += row.credits
    for (model, feature), micros in charged.items():
        assert grew(before, after, CREDITS, model=model, feature=feature) == micros
    assert images.credits == charged[("openai/dall-e-2", "ai_image_generation")] > 0
