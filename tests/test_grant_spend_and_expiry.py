"""Grants are spent by priority then expiry; an expired grant's remainder leaves by an entry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import errors
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, reserve, seed


@pytest.fixture
def empty(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def grant_remaining(book: Ledger, s: Seed) -> dict[int, int]:
    """Grant id → credits left, from the journal (grant/capture/expire/adjustment lines)."""
    left: dict[int, int] = {}
    for line in reversed(book.history(s.account_id, limit=1000)):
        if line.grant_id is not None:
            left[line.grant_id] = left.get(line.grant_id, 0) + line.balance_delta
    return left


def test_spend_order_is_priority_then_expiry(ledger: Ledger, empty: Seed, clock: FakeClock) -> None:
    paid = ledger.grant(empty.account_id, credits(100), kind="paid", key="g-paid").grant_id
    late_promo = ledger.grant(
        empty.account_id,
        credits(100),
        kind="promo",
        key="g-late",
        expires_at=clock.now + timedelta(days=9),
    ).grant_id
    soon_promo = ledger.grant(
        empty.account_id,
        credits(100),
        kind="promo",
        key="g-soon",
        expires_at=clock.now + timedelta(days=2),
    ).grant_id
    plan = ledger.grant(
        empty.account_id,
        credits(100),
        kind="plan",
        key="g-plan",
        expires_at=clock.now + timedelta(days=1),
    ).grant_id
    hold_id = reserve(ledger, empty, credits(250), "r1")
    ledger.capture(hold_id, credits(250), key="c1")
    # promo (priority 10) before plan (20) before paid (40); the sooner promo first.
    assert grant_remaining(ledger, empty) == {
        soon_promo: 0,
        late_promo: 0,
        plan: credits(50),
        paid: credits(100),
    }
    assert ledger.verify() == []


def test_explicit_priority_wins_over_kind(ledger: Ledger, empty: Seed) -> None:
    paid = ledger.grant(empty.account_id, credits(100), kind="paid", key="g1", priority=1).grant_id
    promo = ledger.grant(empty.account_id, credits(100), kind="promo", key="g2").grant_id
    ledger.capture(reserve(ledger, empty, credits(60), "r1"), credits(60), key="c1")
    assert grant_remaining(ledger, empty) == {paid: credits(40), promo: credits(100)}


def test_expired_grant_leaves_through_an_expire_entry(
    ledger: Ledger, empty: Seed, clock: FakeClock
) -> None:
    promo = ledger.grant(
        empty.account_id,
        credits(100),
        kind="promo",
        key="g1",
        expires_at=clock.now + timedelta(hours=1),
    ).grant_id
    ledger.grant(empty.account_id, credits(50), kind="paid", key="g2")
    ledger.capture(reserve(ledger, empty, credits(30), "r1"), credits(30), key="c1")
    clock.advance(hours=2)
    report = ledger.sweep()
    assert report.grant_credits_expired == credits(70)
    expire = [line for line in ledger.history(empty.account_id) if line.kind == "expire"]
    assert [(line.grant_id, line.balance_delta) for line in expire] == [(promo, credits(-70))]
    balance = ledger.balance(empty.account_id)
    assert (balance.balance, balance.held, balance.next_grant_expiry) == (credits(50), 0, None)
    assert ledger.verify() == []


def test_expiry_spares_credits_backing_a_pending_hold(
    ledger: Ledger, empty: Seed, clock: FakeClock
) -> None:
    """A call promised credits before the grant expired keeps them until it settles."""
    promo = ledger.grant(
        empty.account_id,
        credits(100),
        kind="promo",
        key="g1",
        expires_at=clock.now + timedelta(minutes=5),
    ).grant_id
    paid = ledger.grant(empty.account_id, credits(100), kind="paid", key="g2").grant_id
    hold_id = reserve(ledger, empty, credits(150), "r1", ttl=timedelta(hours=1))
    clock.advance(minutes=10)
    # The hold is backed by the promo's 100 (spent first) and 50 of the paid grant: nothing expires.
    assert ledger.sweep().grant_credits_expired == 0
    ledger.capture(hold_id, credits(120), key="c1")
    # The capture took the promo's 100 first, then 20 paid; no promo credit is left to expire.
    assert grant_remaining(ledger, empty) == {promo: 0, paid: credits(80)}
    assert ledger.sweep().grant_credits_expired == 0
    assert ledger.balance(empty.account_id).available == credits(80)
    assert ledger.verify() == []


def test_released_hold_lets_the_expired_remainder_go(
    ledger: Ledger, empty: Seed, clock: FakeClock
) -> None:
    promo = ledger.grant(
        empty.account_id,
        credits(100),
        kind="promo",
        key="g1",
        expires_at=clock.now + timedelta(minutes=5),
    ).grant_id
    ledger.grant(empty.account_id, credits(100), kind="paid", key="g2")
    hold_id = reserve(ledger, empty, credits(80), "r1", ttl=timedelta(hours=1))
    clock.advance(minutes=10)
    assert ledger.sweep().grant_credits_expired == credits(20)  # 80 back the hold
    ledger.release(hold_id, reason="provider error before any token", key="rel-1")
    # The next operation on the account notices the due expiry without waiting for a sweep.
    with pytest.raises(errors.InsufficientCredits) as caught:
        reserve(ledger, empty, credits(101), "r2")
    assert caught.value.fields["available"] == credits(100)
    assert grant_remaining(ledger, empty)[promo] == 0
    assert ledger.verify() == []


def test_operator_adjustments_record_actor_and_reason(ledger: Ledger, seeded: Seed) -> None:
    ledger.adjust(
        seeded.account_id,
        credits(250),
        actor_user_id=seeded.operator_id,
        reason="goodwill",
        key="a1",
    )
    ledger.adjust(
        seeded.account_id,
        credits(-50),
        actor_user_id=seeded.operator_id,
        reason="correction",
        key="a2",
    )
    lines = [line for line in ledger.history(seeded.account_id) if line.kind == "adjustment"]
    assert sorted((line.balance_delta, line.actor_user_id, line.reason) for line in lines) == [
        (credits(-50), seeded.operator_id, "correction"),
        (credits(250), seeded.operator_id, "goodwill"),
    ]
    assert ledger.balance(seeded.account_id).balance == credits(1200)
    # Neither a member nor the workspace's own admin may give the workspace credits.
    for who in (seeded.member_id, seeded.admin_id):
        with pytest.raises(errors.NotAllowed):
            ledger.adjust(
                seeded.account_id,
                credits(5),
                actor_user_id=who,
                reason="self-serve",
                key=f"a3-{who}",
            )
    with pytest.raises(errors.InsufficientCredits):
        ledger.adjust(
            seeded.account_id,
            credits(-5000),
            actor_user_id=seeded.operator_id,
            reason="too much",
            key="a4",
        )
    assert ledger.balance(seeded.account_id).balance == credits(1200)
    assert ledger.verify() == []


def test_negative_adjustment_cannot_take_held_credits(ledger: Ledger, seeded: Seed) -> None:
    reserve(ledger, seeded, credits(900), "r1")
    with pytest.raises(errors.InsufficientCredits) as caught:
        ledger.adjust(
            seeded.account_id,
            credits(-200),
            actor_user_id=seeded.operator_id,
            reason="claw back",
            key="a1",
        )
    assert caught.value.fields["available"] == credits(100)
