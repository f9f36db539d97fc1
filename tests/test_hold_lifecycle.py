"""A hold ends exactly once: captured (the rest released), released or expired."""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, reserve


def kinds(book: Ledger, s: Seed, hold_id: int) -> list[tuple[str, int, int]]:
    return sorted(
        (line.kind, line.balance_delta, line.held_delta)
        for line in book.history(s.account_id)
        if line.hold_id == hold_id
    )


def test_reserve_holds_credits_before_any_call(ledger: Ledger, seeded: Seed) -> None:
    hold_id = reserve(ledger, seeded, credits(300), "r1")
    balance = ledger.balance(seeded.account_id)
    assert (balance.balance, balance.held, balance.available) == (
        credits(1000),
        credits(300),
        credits(700),
    )
    hold = ledger.hold(hold_id)
    assert hold.status == "pending"
    assert hold.operation_type == "text_chat"
    assert hold.price_version_id is not None


def test_partial_capture_releases_the_rest(ledger: Ledger, seeded: Seed) -> None:
    hold_id = reserve(ledger, seeded, credits(300), "r1")
    outcome = ledger.capture(hold_id, credits(120), key="c1")
    assert (outcome.hold.status, outcome.hold.captured) == ("captured", credits(120))
    balance = ledger.balance(seeded.account_id)
    assert (balance.balance, balance.held) == (credits(880), 0)
    assert kinds(ledger, seeded, hold_id) == [
        ("capture", credits(-120), credits(-120)),
        ("hold", 0, credits(300)),
        ("release", 0, credits(-180)),
    ]
    assert ledger.verify() == []


def test_full_and_zero_captures(ledger: Ledger, seeded: Seed) -> None:
    full = reserve(ledger, seeded, credits(100), "r-full")
    ledger.capture(full, credits(100), key="c-full")
    assert kinds(ledger, seeded, full) == [
        ("capture", credits(-100), credits(-100)),
        ("hold", 0, credits(100)),
    ]
    zero = reserve(ledger, seeded, credits(50), "r-zero")
    ledger.capture(zero, 0, key="c-zero")
    assert kinds(ledger, seeded, zero) == [("hold", 0, credits(50)), ("release", 0, credits(-50))]
    assert ledger.balance(seeded.account_id).balance == credits(900)
    assert ledger.verify() == []


def test_capture_above_the_hold_is_refused(ledger: Ledger, seeded: Seed) -> None:
    hold_id = reserve(ledger, seeded, credits(100), "r1")
    with pytest.raises(errors.CaptureExceedsHold) as caught:
        ledger.capture(hold_id, credits(101), key="c1")
    assert caught.value.fields == {
        "hold_id": hold_id,
        "held": credits(100),
        "requested": credits(101),
    }
    assert ledger.hold(hold_id).status == "pending"
    assert ledger.balance(seeded.account_id).held == credits(100)


def test_double_capture_is_refused(ledger: Ledger, seeded: Seed) -> None:
    hold_id = reserve(ledger, seeded, credits(100), "r1")
    ledger.capture(hold_id, credits(60), key="c1")
    with pytest.raises(errors.HoldAlreadyCaptured):
        ledger.capture(hold_id, credits(10), key="c2")
    assert ledger.balance(seeded.account_id).balance == credits(940)


def test_capture_after_release_and_release_after_capture(ledger: Ledger, seeded: Seed) -> None:
    released = reserve(ledger, seeded, credits(100), "r1")
    ledger.release(released, reason="provider returned 500", key="rel-1")
    with pytest.raises(errors.HoldReleased):
        ledger.capture(released, credits(10), key="c1")
    captured = reserve(ledger, seeded, credits(100), "r2")
    ledger.capture(captured, credits(10), key="c2")
    with pytest.raises(errors.HoldAlreadyCaptured):
        ledger.release(captured, reason="too late", key="rel-2")
    assert ledger.hold(released).release_reason == "provider returned 500"
    balance = ledger.balance(seeded.account_id)
    assert (balance.balance, balance.held) == (credits(990), 0)
    assert ledger.verify() == []


def test_capture_after_ttl_expires_the_hold(ledger: Ledger, seeded: Seed, clock: FakeClock) -> None:
    hold_id = reserve(ledger, seeded, credits(100), "r1")
    clock.advance(minutes=16)
    with pytest.raises(errors.HoldExpired):
        ledger.capture(hold_id, credits(50), key="c1")
    assert ledger.hold(hold_id).status == "expired"
    assert kinds(ledger, seeded, hold_id) == [
        ("expire", 0, credits(-100)),
        ("hold", 0, credits(100)),
    ]
    # The sweeper finds nothing left to do: the hold ended exactly once.
    assert ledger.sweep().holds_expired == 0
    assert ledger.balance(seeded.account_id).available == credits(1000)


def test_sweep_expires_by_ttl_exactly_once(ledger: Ledger, seeded: Seed, clock: FakeClock) -> None:
    old = reserve(ledger, seeded, credits(100), "r-old")
    clock.advance(minutes=10)
    young = reserve(ledger, seeded, credits(100), "r-young")
    clock.advance(minutes=6)
    assert ledger.sweep().holds_expired == 1
    assert ledger.sweep().holds_expired == 0
    assert (ledger.hold(old).status, ledger.hold(young).status) == ("expired", "pending")
    assert ledger.capture(young, credits(10), key="c-young").hold.status == "captured"
    assert ledger.verify() == []


def test_hold_ttl_is_configurable_per_call(ledger: Ledger, seeded: Seed, clock: FakeClock) -> None:
    from datetime import timedelta

    hold = ledger.reserve(
        seeded.account_id,
        user_id=seeded.member_id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(10),
        key="r-ttl",
        ttl=timedelta(minutes=2),
    ).hold
    assert hold.expires_at == clock.now + timedelta(minutes=2)
    with pytest.raises(errors.InvalidInput):
        ledger.reserve(
            seeded.account_id,
            user_id=seeded.member_id,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=credits(10),
            key="r-ttl-2",
            ttl=timedelta(0),
        )


def test_insufficient_credits_says_how_much(ledger: Ledger, seeded: Seed) -> None:
    reserve(ledger, seeded, credits(700), "r1")
    with pytest.raises(errors.InsufficientCredits) as caught:
        reserve(ledger, seeded, credits(301), "r2")
    assert caught.value.fields["available"] == credits(300)
    assert caught.value.fields["needed"] == credits(301)
    assert "300 available, 301 needed" in str(caught.value)
    assert reserve(ledger, seeded, credits(300), "r3")
    assert ledger.balance(seeded.account_id).available == 0


def test_hold_fields_follow_the_table_columns() -> None:
    """``Hold.from_row`` reads the holds columns by position."""
    from dataclasses import fields

    from ledger.holds import Hold
    from ledger.schema import holds

    assert [f.name for f in fields(Hold)] == [c.name for c in holds.columns]
