"""Refunds and disputes over the webhook, on SQLite and on PostgreSQL: a refund takes back the
credits it paid for, partial refunds (Stripe's running totals) once each whatever the order, a
refund of spent credits leaves a debt the next grant repays first (nothing lost, ``verify()``
clean); an open or won dispute changes nothing, a lost one takes back; every journal line names
its Stripe object."""

from __future__ import annotations

from ledger.amounts import credits
from tests.stripe_fakes import (
    charge_refunded,
    checkout_completed,
    dispute_closed,
    dispute_object,
    event,
    new_id,
)
from tests.stripe_objects import Obj
from tests.stripe_webhook_harness import (
    World,
    fake_stripe_fixture,
    table_dump,
    webhook_server_fixture,
    world_fixture,
)

webhook = webhook_server_fixture()
fake_stripe = fake_stripe_fixture()
world = world_fixture()

STARTER = credits(10_000)  # US$10.00 (1,000 cents): 10 credits a cent


def bought(world: World) -> tuple[Obj, Obj]:
    """A starter pack paid for and credited: (its Checkout Session, its charge)."""
    session = world.buy("starter")
    assert world.accepted(checkout_completed(session)) == "granted"
    return session, world.charge_of(session)


def refunded(charge: Obj, total_cents: int) -> Obj:
    """``charge.refunded`` with the charge's running total refunded so far."""
    return charge_refunded({**charge, "amount_refunded": total_cents})


def taken_back(world: World) -> list[tuple[str, int, int]]:
    """The journal's refund lines: (reference, balance change, debt change)."""
    return [
        (e.reference, e.balance_delta, e.debt_delta) for e in world.journal() if e.kind == "refund"
    ]


def test_a_refund_before_spending_takes_the_credits_back(world: World) -> None:
    session, charge = bought(world)

    assert world.accepted(refunded(charge, 1000)) == "took back 10,000 credits"

    balance = world.balance()
    assert (balance.balance, balance.available, balance.debt) == (0, 0, 0)
    assert taken_back(world) == [(f"stripe:{charge['id']}:refunded:1000", -STARTER, 0)]
    [grant] = world.grants_named(f"stripe:{session['id']}")
    assert grant.remaining == 0
    payment = world.payment(f"stripe:{session['id']}")
    assert (payment.refunded_cents, payment.taken_back_micros) == (1000, STARTER)


def test_partial_refunds_are_running_totals_each_applied_once(world: World) -> None:
    _, charge = bought(world)
    first, second, third = refunded(charge, 300), refunded(charge, 700), refunded(charge, 1000)

    assert world.accepted(first) == "took back 3,000 credits"
    assert world.deliver(first).json()["duplicate"] is True
    assert world.accepted(second) == "took back 4,000 credits"
    # Another event reporting an older total, arriving late: nothing more.
    assert world.accepted(refunded(charge, 300)) == "nothing more to take back"
    assert world.accepted(third) == "took back 3,000 credits"
    assert world.accepted(refunded(charge, 1000)) == "nothing more to take back"

    assert taken_back(world) == [
        (f"stripe:{charge['id']}:refunded:300", -credits(3_000), 0),
        (f"stripe:{charge['id']}:refunded:700", -credits(4_000), 0),
        (f"stripe:{charge['id']}:refunded:1000", -credits(3_000), 0),
    ]
    assert world.balance().available == 0


def test_a_refund_after_the_credits_were_spent_leaves_a_debt_the_next_grant_repays(
    world: World,
) -> None:
    session, charge = bought(world)
    world.spend(credits(9_000))
    assert world.balance().available == credits(1_000)

    outcome = world.accepted(refunded(charge, 1000))

    assert outcome == "took back 10,000 credits; 9,000 credits owed"
    balance = world.balance()
    assert (balance.balance, balance.held, balance.debt) == (0, 0, credits(9_000))
    assert balance.net == -credits(9_000)
    reference = f"stripe:{charge['id']}:refunded:1000"
    assert taken_back(world) == [
        (reference, -credits(1_000), 0),
        (reference, 0, credits(9_000)),
    ]
    assert world.ledger.verify() == []
    # Nothing lost: bought 10,000, spent 9,000, refunded 10,000: owes 9,000.
    assert STARTER - sum(world.spent) - STARTER == balance.net

    # The next payment repays the debt before anything can be spent.
    next_session, _ = bought(world)
    after = world.balance()
    assert (after.debt, after.available) == (0, credits(1_000))
    [repayment] = [e for e in world.journal() if e.debt_delta < 0]
    assert (repayment.balance_delta, repayment.debt_delta) == (-credits(9_000), -credits(9_000))
    assert repayment.reference == f"stripe:{next_session['id']}"
    assert session["id"] != next_session["id"]


def test_an_open_or_won_dispute_changes_nothing(world: World) -> None:
    _, charge = bought(world)
    before = table_dump(world.ledger.engine)
    opened = event("charge.dispute.created", dispute_object("needs_response", charge))
    won = dispute_closed("won", charge)

    assert world.accepted(opened) == "ignored: type"
    assert world.accepted(won) == "dispute won: nothing taken back"

    after = table_dump(world.ledger.engine)
    assert len(after.pop("stripe_events")) == len(before.pop("stripe_events")) + 2
    assert after == before


def test_a_lost_dispute_takes_the_credits_back_named_by_the_dispute(world: World) -> None:
    session, charge = bought(world)
    lost = dispute_closed("lost", charge)

    assert world.accepted(lost) == "took back 10,000 credits"

    assert taken_back(world) == [(f"stripe:{lost['data']['object']['id']}", -STARTER, 0)]
    payment = world.payment(f"stripe:{session['id']}")
    assert (payment.disputed_cents, payment.taken_back_micros) == (1000, STARTER)
    assert world.balance().available == 0


def test_a_lost_dispute_naming_only_its_charge_is_found_through_stripe(world: World) -> None:
    _, charge = bought(world)
    lost = dispute_closed("lost", charge)
    lost["data"]["object"]["payment_intent"] = None

    assert world.accepted(lost) == "took back 10,000 credits"
    assert world.fake.requests_to("GET", f"/v1/charges/{charge['id']}") != []
    assert world.balance().available == 0


def test_a_refund_then_a_lost_dispute_take_back_at_most_what_was_bought(world: World) -> None:
    session, charge = bought(world)

    assert world.accepted(refunded(charge, 500)) == "took back 5,000 credits"
    assert world.accepted(dispute_closed("lost", charge)) == "took back 5,000 credits"

    assert sum(balance for _, balance, _ in taken_back(world)) == -STARTER
    assert world.payment(f"stripe:{session['id']}").taken_back_micros == STARTER
    assert world.balance().available == 0


def test_a_refund_of_a_charge_this_workbench_did_not_credit_is_ignored(world: World) -> None:
    _, charge = bought(world)
    stranger = {**charge, "id": new_id("ch"), "payment_intent": new_id("pi")}
    before = table_dump(world.ledger.engine)

    outcome = world.accepted(refunded(stranger, 1000))

    assert outcome == "ignored: no payment of this workbench for the charge"
    after = table_dump(world.ledger.engine)
    assert len(after.pop("stripe_events")) == len(before.pop("stripe_events")) + 1
    assert after == before


def test_every_journal_line_of_a_payment_names_its_stripe_object(world: World) -> None:
    session, charge = bought(world)
    world.accepted(refunded(charge, 400))
    lost = dispute_closed("lost", charge, amount=600)
    world.accepted(lost)

    assert [(e.kind, e.reference) for e in world.journal()] == [
        ("grant", f"stripe:{session['id']}"),
        ("refund", f"stripe:{charge['id']}:refunded:400"),
        ("refund", f"stripe:{lost['data']['object']['id']}"),
    ]
