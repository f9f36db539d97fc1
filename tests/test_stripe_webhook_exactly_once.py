"""Every payment credited exactly once, over real HTTP, on SQLite and on PostgreSQL: each event
delivered ten times at once and ten times in a row acts once (the rest are answered 200 as
duplicates); one payment reported by two different events is one grant; an unpaid completion
grants nothing until its asynchronous success; unknown types are acknowledged and ignored. The
last tests go through the app's own server (``streamlit run workbench/app.py``), to prove the
route is mounted there, outside the sign-in gate."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from ledger.amounts import credits
from tests.browser_harness import AppServer, start_app
from tests.stripe_fakes import (
    FakeStripe,
    charge_refunded,
    checkout_async_failed,
    checkout_async_succeeded,
    checkout_completed,
    dispute_closed,
    event,
    running_fake_stripe,
    sign,
    signed,
)
from tests.stripe_webhook_harness import (
    API_KEY,
    SECRET,
    WebhookServer,
    World,
    deliver_concurrently,
    deliver_many,
    fake_stripe_fixture,
    first_and_duplicates,
    post,
    table_dump,
    webhook_server_fixture,
    world_fixture,
)
from workbench.billing.webhook import MISMATCH, STALE
from workbench.bootstrap import open_services
from workbench.config import Settings
from workbench.web.stripe_webhook import RETRY_LATER, WEBHOOK_PATH

webhook = webhook_server_fixture()
fake_stripe = fake_stripe_fixture()
world = world_fixture()

STARTER = credits(10_000)  # data/credit_packs.toml
TEAM_MONTHLY = credits(60_000)  # data/plans.toml


def test_a_paid_checkout_delivered_twenty_times_is_one_grant(world: World) -> None:
    session = world.buy("starter")
    evt = checkout_completed(session)

    acted, duplicates = first_and_duplicates(deliver_many(world.url, evt))

    assert (acted["outcome"], acted["type"], duplicates) == (
        "granted",
        "checkout.session.completed",
        19,
    )
    [grant] = world.grants_named(f"stripe:{session['id']}")
    assert (grant.kind, grant.amount) == ("paid", STARTER)
    assert world.balance().available == STARTER
    assert [(e.id, e.outcome) for e in world.stored_events()] == [(evt["id"], "granted")]
    assert world.payment(f"stripe:{session['id']}").payment_intent == session["payment_intent"]


def test_a_plan_invoice_delivered_twenty_times_is_one_grant(world: World) -> None:
    session = world.subscribe("team-monthly")
    invoice = world.fake.get(session["invoice"])
    evt = event("invoice.paid", invoice)

    acted, _ = first_and_duplicates(deliver_many(world.url, evt))

    assert acted["outcome"] == "granted"
    [grant] = world.grants_named(f"stripe:{invoice['id']}")
    assert (grant.kind, grant.amount) == ("plan", TEAM_MONTHLY)
    assert world.balance().available == TEAM_MONTHLY


def test_a_refund_delivered_twenty_times_takes_back_once(world: World) -> None:
    session = world.buy("starter")
    world.accepted(checkout_completed(session))
    charge = world.charge_of(session)
    charge["amount_refunded"] = charge["amount"]
    evt = charge_refunded(charge)

    acted, _ = first_and_duplicates(deliver_many(world.url, evt))

    assert acted["outcome"] == "took back 10,000 credits"
    assert world.balance().available == 0
    taken = [e for e in world.journal() if e.kind == "refund"]
    assert [(e.balance_delta, e.debt_delta) for e in taken] == [(-STARTER, 0)]


def test_a_lost_dispute_delivered_twenty_times_takes_back_once(world: World) -> None:
    session = world.buy("starter")
    world.accepted(checkout_completed(session))
    evt = dispute_closed("lost", world.charge_of(session))

    acted, _ = first_and_duplicates(deliver_many(world.url, evt))

    assert acted["outcome"] == "took back 10,000 credits"
    assert world.balance().available == 0
    assert len([e for e in world.journal() if e.kind == "refund"]) == 1


def test_one_payment_reported_by_two_events_is_one_grant(world: World) -> None:
    # Both events of one paid session, racing: ten of each at once.
    session = world.buy("starter")
    completed = checkout_completed(session)
    succeeded = checkout_async_succeeded(session)

    answers = deliver_concurrently(world.url, [completed, succeeded] * 10)

    assert [a.status_code for a in answers] == [200] * 20
    acted = sorted(b["outcome"] for b in (a.json() for a in answers) if not b.get("duplicate"))
    assert acted == ["already granted", "granted"]
    [grant] = world.grants_named(f"stripe:{session['id']}")
    assert grant.amount == STARTER
    assert world.balance().available == STARTER
    assert {e.id for e in world.stored_events()} == {completed["id"], succeeded["id"]}


def test_an_unpaid_completion_then_its_async_success_is_one_grant_at_the_second(
    world: World,
) -> None:
    unpaid = world.buy("starter", paid=False)
    completed = checkout_completed(unpaid)

    assert world.accepted(completed) == "not paid yet"
    assert world.grants_named(f"stripe:{unpaid['id']}") == []
    assert world.balance().available == 0

    paid = world.fake.succeed_async(unpaid["id"])
    succeeded = checkout_async_succeeded(paid)
    acted, _ = first_and_duplicates(deliver_many(world.url, succeeded))
    # The unpaid completion delivered again (Stripe's retry) is still only a duplicate.
    assert world.deliver(completed).json()["duplicate"] is True

    assert acted["outcome"] == "granted"
    [grant] = world.grants_named(f"stripe:{unpaid['id']}")
    assert grant.amount == STARTER
    assert world.balance().available == STARTER


def test_a_failed_async_payment_grants_nothing(world: World) -> None:
    unpaid = world.buy("starter", paid=False)
    world.accepted(checkout_completed(unpaid))
    failed = checkout_async_failed(world.fake.fail_async(unpaid["id"]))

    assert world.accepted(failed) == "payment failed: nothing granted"
    assert world.grants_named(f"stripe:{unpaid['id']}") == []
    assert world.balance().available == 0


def test_an_unknown_event_type_is_acknowledged_and_ignored(world: World) -> None:
    before = table_dump(world.ledger.engine)
    evt = event("customer.tax_id.created", {"id": "txi_123", "object": "tax_id"})

    acted, _ = first_and_duplicates([world.deliver(evt), world.deliver(evt)])

    assert acted["outcome"] == "ignored: type"
    after = table_dump(world.ledger.engine)
    # Only its id is remembered (so a retry is a duplicate); nothing else moved.
    assert [(row[0], row[1]) for row in after.pop("stripe_events")] == [
        (evt["id"], "customer.tax_id.created")
    ]
    assert before.pop("stripe_events") == []
    assert after == before


def test_each_delivery_is_one_log_line_without_payload_or_signature(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    session = world.buy("starter")
    evt = checkout_completed(session)
    body, headers = signed(evt, SECRET)
    caplog.set_level(logging.INFO, logger="workbench.web.stripe_webhook")

    answers = [post(world.url, body, headers) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    lines = [r.getMessage() for r in caplog.records if r.name == "workbench.web.stripe_webhook"]
    assert lines == [
        f"Stripe webhook {evt['id']} (checkout.session.completed): granted",
        f"Stripe webhook {evt['id']} (checkout.session.completed): already handled [duplicate]",
    ]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert headers["Stripe-Signature"].split("v1=")[1] not in everything
    assert session["id"] not in everything and "workspace_id" not in everything


def test_a_failure_is_answered_500_and_stripes_retry_then_acts_once(
    world: World,
    webhook: WebhookServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = world.buy("starter")
    evt = checkout_completed(session)
    # The database unreachable while the event comes in.
    unreachable = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'gone.db'}")
    webhook.billing = dataclasses.replace(world.billing, engine=unreachable)
    try:
        answer = world.deliver(evt)
    finally:
        webhook.billing = world.billing
        unreachable.dispose()

    assert (answer.status_code, answer.json()) == (500, {"error": RETRY_LATER})
    [failure] = [r for r in caplog.records if r.name == "workbench.web.stripe_webhook"]
    assert failure.levelno == logging.ERROR and failure.exc_info is not None
    assert world.stored_events() == [] and world.grants_named(f"stripe:{session['id']}") == []
    # Stripe's retry of the same event, once the database is back: acted on, once.
    acted, _ = first_and_duplicates(deliver_many(world.url, evt, 3))
    assert acted["outcome"] == "granted"
    assert world.balance().available == STARTER


# --- the app's own server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """``streamlit run workbench/app.py`` with a webhook secret and no Stripe API key."""
    server = start_app(
        tmp_path_factory.mktemp("webhook-app"), extra_env={"STRIPE_WEBHOOK_SECRET": SECRET}
    )
    try:
        yield server
    finally:
        server.stop()


def test_the_apps_own_server_credits_a_payment_delivered_twenty_times_once(
    app: AppServer,
) -> None:
    # A loopback Stripe of its own: Stripe customers are made per workspace id with an
    # idempotency key, and this database's workspace 1 is not the other tests' workspace 1.
    with running_fake_stripe(API_KEY) as fake:
        fake.add_price("price_workbench_starter", unit_amount=1000)
        credit_through_the_app(app, fake)


def credit_through_the_app(app: AppServer, fake_stripe: FakeStripe) -> None:
    # The test's own handle on the app's database, with the checkout code aimed at the loopback
    # Stripe (the app itself needs no API key to take webhooks).
    config = Settings(
        database_url=f"sqlite:///{app.workdir / 'workbench.db'}",
        stripe_secret_key=SecretStr(API_KEY),
        stripe_api_base=fake_stripe.base_url,
    )
    svc = open_services(config)
    try:
        demo = svc.ledger.workspace("demo")
        before = svc.ledger.balance(demo.account_id)
        started = svc.billing.start_checkout(
            workspace_id=demo.id,
            user_id=svc.ledger.user("member").id,
            kind="pack",
            offer_id="starter",
            return_url=f"{app.url}/credits",
            key=uuid.uuid4().hex,
        )
        session = fake_stripe.complete_session(started.session_id)
        evt = checkout_completed(session)
        url = app.url + WEBHOOK_PATH

        answers = deliver_concurrently(url, [evt] * 10)
        answers += deliver_many(url, evt, 5)

        # No sign-in redirect, no session cookie needed; the app's headers are on it.
        acted, duplicates = first_and_duplicates(answers)
        assert (acted["outcome"], duplicates) == ("granted", 19)
        assert all("default-src 'self'" in a.headers["content-security-policy"] for a in answers)
        assert all("set-cookie" not in a.headers for a in answers)
        after = svc.ledger.balance(demo.account_id)
        assert after.available - before.available == STARTER
        with svc.ledger.engine.connect() as conn:
            named = conn.execute(
                sa.text("SELECT count(*) FROM grants WHERE reference = :r"),
                {"r": f"stripe:{session['id']}"},
            ).scalar_one()
        assert named == 1
        assert svc.ledger.verify() == []
    finally:
        svc.ledger.close()


def test_the_apps_own_server_refuses_a_forged_delivery_and_writes_nothing(
    app: AppServer,
) -> None:
    svc = open_services(Settings(database_url=f"sqlite:///{app.workdir / 'workbench.db'}"))
    try:
        demo = svc.ledger.workspace("demo")
        forged = checkout_completed(
            {
                "id": "cs_test_forged",
                "object": "checkout.session",
                "mode": "payment",
                "payment_status": "paid",
                "metadata": {"workspace_id": str(demo.id), "micros": str(credits(1_000_000))},
            }
        )
        body, headers = signed(forged, "whsec_not_this_apps")
        before = table_dump(svc.ledger.engine)

        answer = post(app.url + WEBHOOK_PATH, body, headers)
        unsigned = post(app.url + WEBHOOK_PATH, body, {"Content-Type": "application/json"})
        stale = post(
            app.url + WEBHOOK_PATH, body, {"Stripe-Signature": sign(body, SECRET, 1_000_000)}
        )

        assert (answer.status_code, answer.json()) == (
            400,
            {"error": MISMATCH},
        )
        assert (unsigned.status_code, unsigned.json()) == (
            400,
            {"error": "missing Stripe-Signature header"},
        )
        assert (stale.status_code, stale.json()) == (400, {"error": STALE})
        assert table_dump(svc.ledger.engine) == before
    finally:
        svc.ledger.close()
