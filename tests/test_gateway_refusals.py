"""Refusals before any call are recorded as ``refused`` usage rows, with no hold and no request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.amounts import credits, format_credits
from ledger.errors import CapExceeded, InsufficientCredits, LedgerError, RateLimited, UnpricedModel
from ledger.schema import idempotency_keys
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.gateway_harness import (
    UNPRICED,
    Harness,
    HarnessFactory,
    ask,
    catalogue_with_unpriced_model,
)
from workbench.gateway.requests import CHAT_FEATURE, IMAGE_FEATURE

ESSAY = ask("Write a long essay about the history of tides and harbours")


# --- what a refusal leaves behind -----------------------------------------------------------------


def stored_outcome(h: Harness, key: str) -> str | None:
    """The outcome the ledger stored with a reserve's idempotency key, if any."""
    with h.ledger.engine.connect() as conn:
        return conn.execute(
            sa.select(idempotency_keys.c.outcome).where(
                idempotency_keys.c.scope == "reserve", idempotency_keys.c.key == key
            )
        ).scalar_one_or_none()


def refused_rows(h: Harness) -> list[Any]:
    return [row for row in h.usage_rows() if row.status == "refused"]


def assert_refusal_recorded(
    h: Harness,
    row: Any,
    error: LedgerError,
    *,
    key: str,
    model: str,
    provider: str,
    feature: str = CHAT_FEATURE,
) -> None:
    caller = h.caller
    assert row.status == "refused"
    assert row.error_type == type(error).__name__
    assert row.error_message == error.message
    assert row.credits == 0
    assert row.hold_id is None, "a refusal has no hold"
    assert row.price_version_id is None
    assert (row.input_tokens, row.output_tokens, row.cached_tokens, row.images) == (0, 0, 0, 0)
    assert (row.model, row.provider, row.idempotency_key) == (model, provider, key)
    assert (row.user_id, row.workspace_id, row.account_id) == (
        caller.user_id,
        caller.workspace_id,
        caller.account_id,
    )
    assert row.feature_key == feature
    assert row.operation_type == ("text_chat" if feature == CHAT_FEATURE else "image_generation")


def refuse(call: Callable[[], object], error: type[LedgerError]) -> LedgerError:
    with pytest.raises(error) as caught:
        call()
    return caught.value


# --- insufficient credits, and its replay ---------------------------------------------------------


def test_insufficient_credits_for_a_chat_is_refused_and_recorded(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(credits(1), "poor")
    estimate = h.gateway.estimate_chat(ESSAY, model="openai/gpt-4o", max_tokens=16_000)
    assert estimate.credits > credits(1)

    error = refuse(
        lambda: h.gateway.chat(
            h.caller, ESSAY, key="poor-1", model="openai/gpt-4o", max_tokens=16_000
        ),
        InsufficientCredits,
    )

    assert error.available == credits(1)
    assert error.needed == estimate.credits
    assert error.account_id == h.caller.account_id
    assert error.replayed is False
    needed = format_credits(estimate.credits, exact=True)  # every decimal, in credits
    assert error.message == f"not enough credits: 1 available, {needed} needed"
    [row] = h.usage_rows()
    assert_refusal_recorded(h, row, error, key="poor-1", model="openai/gpt-4o", provider="openai")
    assert h.holds() == []
    assert h.available() == credits(1)
    assert h.fake.api_requests() == []


def test_insufficient_credits_for_images_is_refused_and_recorded(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(credits(1), "poor")
    estimate = h.gateway.estimate_images(model="openai/dall-e-3", size="1024x1792", quality="hd")
    assert estimate.credits == credits(144)

    error = refuse(
        lambda: h.gateway.generate_images(
            h.caller,
            "a harbour",
            key="poor-i",
            model="openai/dall-e-3",
            size="1024x1792",
            quality="hd",
        ),
        InsufficientCredits,
    )

    assert (error.available, error.needed) == (credits(1), credits(144))
    [row] = h.usage_rows()
    assert_refusal_recorded(
        h,
        row,
        error,
        key="poor-i",
        model="openai/dall-e-3",
        provider="openai",
        feature=IMAGE_FEATURE,
    )
    assert h.holds() == []
    assert h.fake.api_requests() == []


def test_a_stored_refusal_is_replayed_without_a_second_row(
    make_harness: HarnessFactory, ledger: Ledger
) -> None:
    h = make_harness(credits(1), "poor")

    def ask_for_an_essay() -> object:
        return h.gateway.chat(
            h.caller, ESSAY, key="poor-1", model="openai/gpt-4o", max_tokens=16_000
        )

    first = refuse(ask_for_an_essay, InsufficientCredits)
    outcome = stored_outcome(h, "poor-1")
    assert outcome is not None and "InsufficientCredits" in outcome, "stored with the key"

    again = refuse(ask_for_an_essay, InsufficientCredits)
    assert again.replayed is True
    assert (again.message, again.available, again.needed) == (
        first.message,
        first.available,
        first.needed,
    )
    assert len(h.usage_rows()) == 1, "a replayed refusal is not recorded again"

    # The refusal was decided by the balance at the time: credits added later do not change
    # what that request was told, but a new request (a new key) gets through.
    ledger.grant(h.caller.account_id, credits(5_000), kind="paid", key="top-up")
    still = refuse(ask_for_an_essay, InsufficientCredits)
    assert still.replayed is True and still.available == credits(1)
    assert len(h.usage_rows()) == 1
    assert h.holds() == []
    assert h.fake.api_requests() == []

    turn = h.gateway.chat(h.caller, ESSAY, key="poor-2", model="openai/gpt-4o", max_tokens=16_000)
    assert "".join(turn)
    assert turn.result is not None and turn.result.status == "ok"
    assert [row.status for row in h.usage_rows()] == ["refused", "ok"]
    assert len(h.fake.api_requests()) == 1


# --- a member's monthly cap -----------------------------------------------------------------------


def test_a_members_monthly_cap_is_refused_and_recorded(
    make_harness: HarnessFactory, ledger: Ledger
) -> None:
    h = make_harness()
    ledger.set_monthly_cap(h.caller.workspace_id, h.caller.user_id, credits(10))
    estimate = h.gateway.estimate_chat(ESSAY, model="openai/gpt-4o", max_tokens=2_000)
    assert estimate.credits > credits(10)
    before = h.available()

    def ask_for_an_essay() -> object:
        return h.gateway.chat(h.caller, ESSAY, key="cap-1", model="openai/gpt-4o", max_tokens=2_000)

    error = refuse(ask_for_an_essay, CapExceeded)

    assert (error.cap, error.used, error.needed) == (credits(10), 0, estimate.credits)
    assert error.user_id == h.caller.user_id
    assert "monthly spending cap reached" in error.message
    needed = format_credits(estimate.credits, exact=True)
    assert f"0 of 10 credits used this month, {needed} more needed" in error.message
    [row] = h.usage_rows()
    assert_refusal_recorded(h, row, error, key="cap-1", model="openai/gpt-4o", provider="openai")
    assert h.holds() == []
    assert h.available() == before
    assert h.fake.api_requests() == []

    again = refuse(ask_for_an_essay, CapExceeded)
    assert again.replayed is True and again.message == error.message
    assert len(h.usage_rows()) == 1

    # A call that fits under the cap still goes through.
    turn = h.gateway.chat(h.caller, ask("hi"), key="cap-2")
    assert "".join(turn)
    assert turn.result is not None and turn.result.status == "ok"


# --- a listed model with no price -----------------------------------------------------------------


def test_a_listed_but_unpriced_model_is_refused_and_recorded(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    h = make_harness(model_catalogue=catalogue_with_unpriced_model(tmp_path))
    assert h.gateway.catalogue.get(UNPRICED) is not None
    before = h.available()

    with pytest.raises(UnpricedModel) as estimated:
        h.gateway.estimate_chat(ask("hi"), model=UNPRICED)
    assert h.usage_rows() == [], "an estimate asks for nothing, so records nothing"

    error = refuse(
        lambda: h.gateway.chat(h.caller, ask("hi"), key="unpriced-1", model=UNPRICED),
        UnpricedModel,
    )

    assert error.model == UNPRICED
    assert f"'{UNPRICED}' has no price" in error.message
    assert error.message == estimated.value.message
    [row] = h.usage_rows()
    assert_refusal_recorded(h, row, error, key="unpriced-1", model=UNPRICED, provider="openai")
    assert h.holds() == []
    assert stored_outcome(h, "unpriced-1") is None
    assert h.available() == before
    assert h.fake.api_requests() == []


# --- rate limits ----------------------------------------------------------------------------------


def streamed_ok(h: Harness, key: str) -> None:
    turn = h.gateway.chat(h.caller, ask(f"hello {key}"), key=key)
    assert "".join(turn)
    assert turn.result is not None and turn.result.status == "ok" and not turn.result.replayed


def test_the_per_minute_limit_refuses_the_third_call(
    make_harness: HarnessFactory, clock: FakeClock
) -> None:
    h = make_harness(rate_limit_per_minute=2)
    streamed_ok(h, "rl-1")
    clock.advance(seconds=20)
    streamed_ok(h, "rl-2")
    clock.advance(seconds=15)

    error = refuse(lambda: h.gateway.chat(h.caller, ask("third"), key="rl-3"), RateLimited)

    assert error.limit == "per_minute"
    assert 1 <= error.retry_after_s <= 60
    assert error.retry_after_s == 25, "the oldest of the two calls leaves the window in 25 s"
    assert "at most 2 requests a minute" in error.message
    assert "try again in 25 s" in error.message
    refusal = refused_rows(h)[-1]
    assert_refusal_recorded(h, refusal, error, key="rl-3", model="demo/chat", provider="demo")
    assert len(h.holds()) == 2, "the refused call got no hold"
    assert stored_outcome(h, "rl-3") is None, "a rate-limit refusal is not stored with its key"

    clock.advance(seconds=61)
    streamed_ok(h, "rl-4")
    assert [row.status for row in h.usage_rows()] == ["ok", "ok", "refused", "ok"]
    assert h.fake.api_requests() == []


def test_a_rate_limited_key_succeeds_once_there_is_room(
    make_harness: HarnessFactory, clock: FakeClock
) -> None:
    h = make_harness(rate_limit_per_minute=1)
    streamed_ok(h, "room-1")
    error = refuse(lambda: h.gateway.chat(h.caller, ask("hello again"), key="room-2"), RateLimited)
    assert error.replayed is False
    assert error.retry_after_s == 60

    clock.advance(seconds=61)
    turn = h.gateway.chat(h.caller, ask("hello again"), key="room-2")
    assert turn.hold is not None, "answered afresh, not from a stored refusal"
    assert "".join(turn)
    assert turn.result is not None and turn.result.status == "ok" and not turn.result.replayed
    rows = h.usage_rows()
    assert [(row.status, row.idempotency_key) for row in rows] == [
        ("ok", "room-1"),
        ("refused", "room-2"),
        ("ok", "room-2"),
    ]
    assert rows[1].error_type == "RateLimited" and rows[2].hold_id == turn.hold.id


def test_the_concurrency_limit_refuses_a_second_call_in_flight(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(rate_limit_concurrent=1)
    first = h.gateway.chat(h.caller, ask("first"), key="c-1")  # reserved, not yet streamed
    assert first.hold is not None and first.hold.status == "pending"

    error = refuse(lambda: h.gateway.chat(h.caller, ask("second"), key="c-2"), RateLimited)

    assert error.limit == "concurrent"
    assert 1 <= error.retry_after_s <= 60
    assert "at once" in error.message and "wait for one to finish" in error.message
    [refusal] = refused_rows(h)
    assert_refusal_recorded(h, refusal, error, key="c-2", model="demo/chat", provider="demo")
    assert len(h.holds()) == 1
    assert stored_outcome(h, "c-2") is None

    assert "".join(first)
    assert first.result is not None and first.result.status == "ok"
    second = h.gateway.chat(h.caller, ask("second"), key="c-2")  # the same request and key
    assert "".join(second)
    assert second.result is not None and second.result.status == "ok"
    assert [row.status for row in h.usage_rows()] == ["refused", "ok", "ok"]
    assert h.fake.api_requests() == []
