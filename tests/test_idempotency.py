"""The same key and request returns the original outcome; the same key with another is refused."""

from __future__ import annotations

import pickle

import pytest

from ledger import errors
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import Seed, reserve, reserve_outcome
from tests.journal_state import money_state


def test_replayed_reserve_returns_the_same_hold(ledger: Ledger, seeded: Seed) -> None:
    first = reserve_outcome(ledger, seeded, credits(40), "chat-turn-1")
    before = money_state(ledger)
    again = reserve_outcome(ledger, seeded, credits(40), "chat-turn-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.hold.id == first.hold.id
    assert money_state(ledger) == before
    assert ledger.balance(seeded.account_id).held == credits(40)


def test_same_key_different_request_is_a_conflict(ledger: Ledger, seeded: Seed) -> None:
    reserve(ledger, seeded, credits(40), "k")
    before = money_state(ledger)
    with pytest.raises(errors.IdempotencyConflict) as caught:
        reserve(ledger, seeded, credits(41), "k")
    assert caught.value.fields == {"scope": "reserve", "key": "k"}
    assert money_state(ledger) == before


def test_stored_refusal_is_replayed_even_after_credits_arrive(ledger: Ledger, seeded: Seed) -> None:
    with pytest.raises(errors.InsufficientCredits) as first:
        reserve(ledger, seeded, credits(5000), "big")
    assert first.value.replayed is False
    ledger.grant(seeded.account_id, credits(10_000), kind="paid", key="top-up")
    with pytest.raises(errors.InsufficientCredits) as caught:
        reserve(ledger, seeded, credits(5000), "big")
    assert caught.value.fields["available"] == credits(1000)  # the original refusal, as it was
    assert (caught.value.available, caught.value.needed) == (credits(1000), credits(5000))
    assert caught.value.replayed is True
    assert (caught.value.message, caught.value.fields) == (first.value.message, first.value.fields)
    assert reserve(ledger, seeded, credits(5000), "big-retry") > 0


def test_errors_carry_typed_facts_that_round_trip() -> None:
    refusal = errors.CapExceeded("cap", account_id=1, user_id=2, cap=30, used=20, needed=11)
    assert (refusal.cap, refusal.used, refusal.needed) == (30, 20, 11)
    assert str(refusal) == "cap" and refusal.args == ("cap",)
    payload = refusal.to_payload()
    assert payload == {
        "type": "CapExceeded",
        "message": "cap",
        "fields": {"account_id": 1, "user_id": 2, "cap": 30, "used": 20, "needed": 11},
    }, "the stored format: replayed is not one of the facts"
    again = errors.error_from_payload(payload)
    assert type(again) is errors.CapExceeded and again.replayed
    assert (again.message, again.fields) == (refusal.message, refusal.fields)
    copied = pickle.loads(pickle.dumps(again))
    assert type(copied) is errors.CapExceeded
    assert (copied.fields, copied.replayed) == (again.fields, True)


def test_capture_and_release_replays(ledger: Ledger, seeded: Seed) -> None:
    hold_id = reserve(ledger, seeded, credits(100), "r1")
    first = ledger.capture(hold_id, credits(70), key="cap-1")
    again = ledger.capture(hold_id, credits(70), key="cap-1")
    assert again.replayed and again.hold.captured == credits(70) and again.hold.id == first.hold.id
    with pytest.raises(errors.IdempotencyConflict):
        ledger.capture(hold_id, credits(71), key="cap-1")
    other = reserve(ledger, seeded, credits(100), "r2")
    ledger.release(other, reason="user stopped", key="rel-1")
    assert ledger.release(other, reason="user stopped", key="rel-1").replayed
    with pytest.raises(errors.IdempotencyConflict):
        ledger.release(other, reason="another reason", key="rel-1")
    assert ledger.balance(seeded.account_id).balance == credits(930)
    assert ledger.verify() == []


def test_grant_replay_grants_once(ledger: Ledger, seeded: Seed) -> None:
    first = ledger.grant(seeded.account_id, credits(500), kind="paid", key="stripe:cs_123")
    again = ledger.grant(seeded.account_id, credits(500), kind="paid", key="stripe:cs_123")
    assert again.replayed and again.grant_id == first.grant_id
    assert ledger.balance(seeded.account_id).balance == credits(1500)
    with pytest.raises(errors.IdempotencyConflict):
        ledger.grant(seeded.account_id, credits(501), kind="paid", key="stripe:cs_123")


def test_keys_are_scoped_by_operation(ledger: Ledger, seeded: Seed) -> None:
    """One user action may use the same key for its reserve and its capture."""
    hold_id = reserve(ledger, seeded, credits(100), "turn-7")
    assert not ledger.capture(hold_id, credits(10), key="turn-7").replayed


def test_fractional_amounts_are_part_of_the_request(ledger: Ledger, seeded: Seed) -> None:
    """Amounts enter a request's identity exactly, to the micro-credit."""
    first = ledger.grant(seeded.account_id, credits("0.5"), kind="promo", key="half")
    again = ledger.grant(seeded.account_id, credits("0.5"), kind="promo", key="half")
    assert again.replayed and again.grant_id == first.grant_id and again.amount == credits("0.5")
    with pytest.raises(errors.IdempotencyConflict):
        ledger.grant(seeded.account_id, credits("0.500001"), kind="promo", key="half")
    with pytest.raises(errors.IdempotencyConflict):
        ledger.grant(seeded.account_id, credits(1), kind="promo", key="half")
    assert ledger.balance(seeded.account_id).balance == credits("1000.5")
