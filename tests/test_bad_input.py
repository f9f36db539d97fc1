"""Bad input to every money operation: a typed error with a clear message, and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger import errors
from ledger.amounts import MAX_AMOUNT, credits
from ledger.service import Ledger
from tests.conftest import Seed, reserve
from tests.journal_state import money_state

BAD_AMOUNTS = [0, -1, -(10**6), MAX_AMOUNT + 1, 10**30, 1.5, Decimal("5"), "10", None, True]
BAD_KEYS = ["", " ", "has space", "-leading-dash", "x" * 201, "semi;colon", "ünïcode", None, 42]


def reserve_with(book: Ledger, s: Seed, **changes: Any) -> Callable[[], Any]:
    """A reserve of 5 credits for the seeded member, with some arguments changed."""
    arguments: dict[str, Any] = {
        "user_id": s.member_id,
        "feature_key": "ai_text_chat",
        "model": "demo/chat",
        "amount": credits(5),
        "key": "r-bad",
    }
    arguments.update(changes)
    account_id = arguments.pop("account_id", s.account_id)
    return lambda: book.reserve(account_id, **arguments)


def assert_refused(
    book: Ledger, call: Callable[[], Any], error: type[errors.LedgerError], words: str
) -> errors.LedgerError:
    before = money_state(book)
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value), str(caught.value)
    assert money_state(book) == before, "a refused call changed the ledger"
    return caught.value


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_reserve_refuses_bad_amounts(ledger: Ledger, seeded: Seed, amount: Any) -> None:
    assert_refused(
        ledger,
        reserve_with(ledger, seeded, amount=amount, key="k1"),
        errors.InvalidAmount,
        "amount",
    )


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_grant_refuses_bad_amounts(ledger: Ledger, seeded: Seed, amount: Any) -> None:
    assert_refused(
        ledger,
        lambda: ledger.grant(seeded.account_id, amount, kind="paid", key="g-bad"),
        errors.InvalidAmount,
        "amount",
    )


@pytest.mark.parametrize("amount", [-1, MAX_AMOUNT + 1, 2.0, None])
def test_capture_refuses_bad_amounts(ledger: Ledger, seeded: Seed, amount: Any) -> None:
    hold_id = reserve(ledger, seeded, credits(10), "r1")
    assert_refused(
        ledger, lambda: ledger.capture(hold_id, amount, key="c1"), errors.InvalidAmount, "amount"
    )


@pytest.mark.parametrize("key", BAD_KEYS)
def test_malformed_keys_are_refused(ledger: Ledger, seeded: Seed, key: Any) -> None:
    assert_refused(
        ledger,
        reserve_with(ledger, seeded, key=key),
        errors.InvalidIdempotencyKey,
        "idempotency key",
    )
    assert_refused(
        ledger,
        lambda: ledger.grant(seeded.account_id, credits(5), kind="paid", key=key),
        errors.InvalidIdempotencyKey,
        "idempotency key",
    )


def test_unknown_account_is_refused(ledger: Ledger, seeded: Seed) -> None:
    error = assert_refused(
        ledger,
        reserve_with(ledger, seeded, account_id=999_999, key="r-unknown"),
        errors.UnknownAccount,
        "no account",
    )
    assert error.fields["account_id"] == 999_999
    assert_refused(
        ledger,
        lambda: ledger.grant(999_999, credits(5), kind="paid", key="g-unknown"),
        errors.UnknownAccount,
        "no account",
    )


@pytest.mark.parametrize("feature", ["ai_video", "", "AI_TEXT_CHAT", None])
def test_unknown_feature_is_refused(ledger: Ledger, seeded: Seed, feature: Any) -> None:
    assert_refused(
        ledger,
        reserve_with(ledger, seeded, feature_key=feature, key="r-feature"),
        errors.UnknownFeature,
        "unknown feature",
    )


@pytest.mark.parametrize(
    ("model", "error", "words"),
    [
        ("gpt-99-imaginary", errors.UnpricedModel, "has no price"),
        ("demo/images", errors.UnpricedModel, "priced for 'ai_image_generation'"),
        ("", errors.InvalidInput, "model must be"),
        ("x" * 201, errors.InvalidInput, "model must be"),
    ],
)
def test_unknown_and_unpriced_models_are_refused(
    ledger: Ledger, seeded: Seed, model: str, error: type[errors.LedgerError], words: str
) -> None:
    assert_refused(
        ledger,
        reserve_with(ledger, seeded, model=model, key="r-model"),
        error,
        words,
    )


def test_unknown_hold_is_refused(ledger: Ledger, seeded: Seed) -> None:
    assert_refused(
        ledger, lambda: ledger.capture(424242, credits(1), key="c-x"), errors.UnknownHold, "no hold"
    )
    assert_refused(
        ledger,
        lambda: ledger.release(424242, reason="x", key="rel-x"),
        errors.UnknownHold,
        "no hold",
    )


def test_non_member_cannot_reserve(ledger: Ledger, seeded: Seed) -> None:
    outsider = ledger.create_user("outsider")
    assert_refused(
        ledger,
        reserve_with(ledger, seeded, user_id=outsider.id, key="r-outsider"),
        errors.NotAMember,
        "not a member",
    )


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_release_and_adjust_need_a_reason(ledger: Ledger, seeded: Seed, reason: Any) -> None:
    hold_id = reserve(ledger, seeded, credits(10), "r-reason")
    assert_refused(
        ledger,
        lambda: ledger.release(hold_id, reason=reason, key="rel-1"),
        errors.MissingReason,
        "reason is required",
    )
    assert_refused(
        ledger,
        lambda: ledger.adjust(
            seeded.account_id,
            credits(10),
            actor_user_id=seeded.operator_id,
            reason=reason,
            key="adj-1",
        ),
        errors.MissingReason,
        "reason is required",
    )


def test_grant_refuses_bad_kind_and_naive_or_past_expiry(ledger: Ledger, seeded: Seed) -> None:
    assert_refused(
        ledger,
        lambda: ledger.grant(seeded.account_id, credits(5), kind="gift", key="g-kind"),
        errors.InvalidInput,
        "grant kind",
    )
    assert_refused(
        ledger,
        lambda: ledger.grant(
            seeded.account_id,
            credits(5),
            kind="promo",
            key="g-naive",
            expires_at=datetime(2030, 1, 1),
        ),
        errors.InvalidInput,
        "timezone-aware",
    )
    past = ledger.now().replace(year=2000)
    assert_refused(
        ledger,
        lambda: ledger.grant(
            seeded.account_id, credits(5), kind="promo", key="g-past", expires_at=past
        ),
        errors.InvalidInput,
        "already in the past",
    )


def test_zero_adjustment_is_refused(ledger: Ledger, seeded: Seed) -> None:
    assert_refused(
        ledger,
        lambda: ledger.adjust(
            seeded.account_id, 0, actor_user_id=seeded.operator_id, reason="nothing", key="adj-0"
        ),
        errors.InvalidInput,
        "non-zero",
    )
