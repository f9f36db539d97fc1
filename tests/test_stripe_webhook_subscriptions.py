"""Plans over the webhook, on SQLite and on PostgreSQL: each paid invoice is one ``plan`` grant that
expires when its period ends, so the previous period's unspent plan credits expire at their end
(paid credits stay); subscription events delivered out of order leave the newest state, and two
of the same second are settled by asking Stripe for the subscription as it is now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.amounts import credits
from tests.stripe_fakes import (
    checkout_completed,
    event,
    invoice_paid,
    new_id,
    subscription_event,
)
from tests.stripe_objects import MONTH, Obj
from tests.stripe_webhook_harness import (
    World,
    fake_stripe_fixture,
    webhook_server_fixture,
    world_fixture,
)

webhook = webhook_server_fixture()
fake_stripe = fake_stripe_fixture()
world = world_fixture()

TEAM_MONTHLY = credits(60_000)  # data/plans.toml
STARTER = credits(10_000)  # data/credit_packs.toml


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def subscribed(world: World) -> tuple[Obj, Obj]:
    """The workspace's admin subscribes to Team monthly: (subscription, first invoice)."""
    session = world.subscribe("team-monthly")
    return world.fake.get(session["subscription"]), world.fake.get(session["invoice"])


def renewal(subscription: Obj, period_start: int) -> Obj:
    """``invoice.paid`` for the month starting at ``period_start``, as Stripe sends it then."""
    return invoice_paid(
        subscription=subscription["id"],
        price="price_workbench_team_monthly",
        customer=subscription["customer"],
        metadata=subscription["metadata"],
        period_start=period_start,
        period_end=period_start + MONTH,
        amount_paid=5000,
        payment_intent=new_id("pi"),
        created=period_start,
    )


def with_state(subscription: Obj, **changes: object) -> Obj:
    return {**subscription, **changes}


def test_a_paid_invoice_is_a_plan_grant_expiring_at_its_period_end(world: World) -> None:
    subscription, invoice = subscribed(world)
    period_end = invoice["lines"]["data"][0]["period"]["end"]

    outcome = world.accepted(event("invoice.paid", invoice))

    assert outcome == "granted"
    [grant] = world.grants_named(f"stripe:{invoice['id']}")
    assert (grant.kind, grant.amount, grant.remaining) == ("plan", TEAM_MONTHLY, TEAM_MONTHLY)
    assert grant.expires_at == at(period_end)
    assert world.balance().available == TEAM_MONTHLY
    payment = world.payment(f"stripe:{invoice['id']}")
    assert (payment.kind, payment.offer_id, payment.amount_cents) == ("plan", "team-monthly", 5000)
    [line] = [e for e in world.journal() if e.grant_id == grant.id]
    assert line.reference == f"stripe:{invoice['id']}"
    assert subscription["metadata"]["workspace_id"] == str(world.seed.workspace_id)


def test_the_next_periods_invoice_lets_the_last_periods_unspent_credits_expire_at_their_end(
    world: World,
) -> None:
    subscription, first = subscribed(world)
    first_end = first["lines"]["data"][0]["period"]["end"]
    world.accepted(event("invoice.paid", first))
    session = world.buy("starter")
    world.accepted(checkout_completed(session))
    world.spend(credits(1_500))  # from the plan's credits: they are spent before paid ones
    [plan_grant] = world.grants_of_kind("plan")
    assert plan_grant.remaining == TEAM_MONTHLY - credits(1_500)

    # The month's last second: nothing expires yet.
    world.clock.now = at(first_end) - timedelta(seconds=1)
    assert world.ledger.sweep().grant_credits_expired == 0
    # The next period starts; Stripe charges the renewal and tells us.
    world.clock.now = at(first_end)
    second = renewal(subscription, first_end)
    assert world.accepted(second) == "granted"
    report = world.ledger.sweep()

    assert report.grant_credits_expired == TEAM_MONTHLY - credits(1_500)
    old, new = world.grants_of_kind("plan")
    assert (old.id, old.remaining) == (plan_grant.id, 0)
    assert (new.amount, new.remaining, new.expires_at) == (
        TEAM_MONTHLY,
        TEAM_MONTHLY,
        at(first_end + MONTH),
    )
    [paid] = world.grants_of_kind("paid")
    assert paid.remaining == STARTER
    assert world.balance().available == TEAM_MONTHLY + STARTER
    [expiry] = [e for e in world.journal() if e.kind == "expire"]
    assert (expiry.grant_id, expiry.balance_delta) == (old.id, -(TEAM_MONTHLY - credits(1_500)))


def test_subscription_events_delivered_out_of_order_leave_the_newest_state(
    world: World,
) -> None:
    subscription, _ = subscribed(world)
    t = subscription["created"]
    created = subscription_event("created", with_state(subscription, status="incomplete"), t)
    past_due = subscription_event("updated", with_state(subscription, status="past_due"), t + 10)
    cancelling = subscription_event(
        "updated", with_state(subscription, status="active", cancel_at_period_end=True), t + 20
    )
    deleted = subscription_event(
        "deleted", with_state(subscription, status="canceled", ended_at=t + 30), t + 30
    )

    assert world.accepted(cancelling) == "subscription active"
    assert world.accepted(past_due) == "ignored: older than the state kept"
    assert world.accepted(created) == "ignored: older than the state kept"
    row = world.subscription(subscription["id"])
    assert (row.status, row.cancel_at_period_end, row.state_at) == ("active", True, t + 20)
    assert (row.workspace_id, row.offer_id) == (world.seed.workspace_id, "team-monthly")

    assert world.accepted(deleted) == "subscription canceled"
    # An update older than the deletion, arriving after it, does not bring the plan back.
    late = subscription_event("updated", with_state(subscription, status="active"), t + 25)
    assert world.accepted(late) == "ignored: older than the state kept"
    row = world.subscription(subscription["id"])
    assert (row.status, row.state_at) == ("canceled", t + 30)


def test_two_updates_of_the_same_second_are_settled_by_stripes_current_state(
    world: World,
) -> None:
    # Stripe made A then B within one second; B is what it holds now. B arrives first.
    subscription, _ = subscribed(world)
    t = subscription["created"] + 60
    a = subscription_event("updated", with_state(subscription, status="active"), t)
    now_at_stripe = world.fake.put(with_state(subscription, status="past_due"))
    b = subscription_event("updated", now_at_stripe, t)

    assert world.accepted(b) == "subscription past_due"
    asked_before = len(world.fake.requests_to("GET", f"/v1/subscriptions/{subscription['id']}"))
    assert world.accepted(a) == "subscription past_due"

    asked = world.fake.requests_to("GET", f"/v1/subscriptions/{subscription['id']}")
    assert len(asked) == asked_before + 1
    assert world.subscription(subscription["id"]).status == "past_due"
