"""Auto top-up: below the threshold, the chosen pack is bought off-session with the saved card,
at most one attempt in flight and at most N a month; the payment is credited once whether the
API's answer or the webhook's event comes first; a decline grants nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from ledger import db
from ledger.amounts import credits
from ledger.errors import InvalidInput, NotAllowed
from ledger.schema import audit_events
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.stripe_fakes import FakeStripe, payment_intent_event, running_fake_stripe
from workbench.billing import offers
from workbench.billing.auto_top_up import AutoTopUp
from workbench.billing.service import Billing
from workbench.billing.stripe_api import StripeApi
from workbench.config import DATA
from workbench.db import schema as app_schema
from workbench.db.schema import auto_top_up_runs, payments


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        running.add_price("price_workbench_starter", unit_amount=1000)
        yield running


@pytest.fixture
def billing(ledger: Ledger, clock: FakeClock, fake: FakeStripe) -> Billing:
    app_schema.migrate(ledger.engine)
    offers.seed(ledger.engine, DATA / "credit_packs.toml", DATA / "plans.toml", clock.now)
    return Billing(ledger.engine, clock, StripeApi("sk_test_auto", fake.base_url, 10.0))


@pytest.fixture
def ws(ledger: Ledger, fake: FakeStripe, billing: Billing, clock: FakeClock) -> Seed:
    """A workspace with 50 credits, a customer with a saved card and auto top-up at 100."""
    s = seed(ledger, credits(50))
    customer = fake.add_customer(name="Acme")["id"]
    fake.add_payment_method(customer, default=True)
    with db.write_transaction(ledger.engine) as conn:
        conn.execute(
            app_schema.billing_customers.insert().values(
                workspace_id=s.workspace_id, customer_id=customer, created_at=clock.now
            )
        )
    billing.save_auto_top_up(
        AutoTopUp(s.workspace_id, True, credits(100), "starter", 2), actor_user_id=s.admin_id
    )
    return s


def runs(book: Ledger) -> list[tuple[str, str | None]]:
    with book.engine.connect() as conn:
        rows = conn.execute(
            sa.select(auto_top_up_runs.c.status, auto_top_up_runs.c.error).order_by(
                auto_top_up_runs.c.id
            )
        )
        return [(r.status, r.error) for r in rows]


def payment_intents(fake: FakeStripe) -> list[dict[str, object]]:
    return [r.params for r in fake.requests_to("POST", "/v1/payment_intents")]


def test_below_the_threshold_the_pack_is_bought_and_credited(
    ledger: Ledger, billing: Billing, fake: FakeStripe, ws: Seed
) -> None:
    attempt = billing.top_up_if_due(ws.workspace_id)
    assert attempt is not None and attempt.status == "succeeded"
    assert ledger.balance(ws.account_id).balance == credits(50) + credits(10000)
    [sent] = payment_intents(fake)
    assert sent["amount"] == "1000" and sent["off_session"] == "true"
    assert sent["metadata"]["workspace_id"] == str(ws.workspace_id)
    assert runs(ledger) == [("succeeded", None)]
    # Above the threshold now: nothing more.
    assert billing.top_up_if_due(ws.workspace_id) is None
    assert len(payment_intents(fake)) == 1
    assert ledger.verify() == []


def test_the_webhook_event_after_the_answer_credits_nothing_more(
    ledger: Ledger, billing: Billing, fake: FakeStripe, ws: Seed
) -> None:
    billing.top_up_if_due(ws.workspace_id)
    [intent] = fake.objects("payment_intent")
    for _ in range(3):
        billing.handle_event(payment_intent_event("payment_intent.succeeded", intent))
    assert ledger.balance(ws.account_id).balance == credits(10050)
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(payments)).scalar_one() == 1


def test_at_most_one_in_flight_across_threads(
    ledger: Ledger, billing: Billing, fake: FakeStripe, ws: Seed
) -> None:
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            billing.top_up_if_due(ws.workspace_id)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(payment_intents(fake)) == 1
    assert ledger.balance(ws.account_id).balance == credits(10050)


def test_at_most_n_a_month(
    ledger: Ledger, billing: Billing, fake: FakeStripe, ws: Seed, clock: FakeClock
) -> None:
    def spend_down() -> None:
        available = ledger.balance(ws.account_id).available
        ledger.take_back(
            ws.workspace_id,
            available - credits(10),
            actor_user_id=ws.operator_id,
            reason="spent",
            key=f"spend-{len(payment_intents(fake))}",
        )

    for _ in range(2):
        assert billing.top_up_if_due(ws.workspace_id) is not None
        spend_down()
    assert billing.top_up_if_due(ws.workspace_id) is None  # the monthly limit of 2
    assert len(payment_intents(fake)) == 2
    clock.now = clock.now.replace(month=clock.now.month + 1, day=1)
    assert billing.top_up_if_due(ws.workspace_id) is not None
    assert len(payment_intents(fake)) == 3


def test_a_declined_card_grants_nothing_and_frees_the_slot(
    ledger: Ledger, billing: Billing, fake: FakeStripe, ws: Seed
) -> None:
    fake.decline_next_payment_intents(1)
    attempt = billing.top_up_if_due(ws.workspace_id)
    assert attempt is not None and attempt.status == "failed"
    assert "declined" in attempt.detail.lower()
    assert ledger.balance(ws.account_id).balance == credits(50)
    [(status, error)] = runs(ledger)
    assert status == "failed" and error and "declined" in error.lower()
    # A failed attempt does not count against the month, and the next one may run.
    assert billing.top_up_if_due(ws.workspace_id) is not None
    assert ledger.balance(ws.account_id).balance == credits(10050)
    assert ledger.verify() == []


def test_no_saved_customer_records_why_and_charges_nothing(
    ledger: Ledger, billing: Billing, fake: FakeStripe, clock: FakeClock
) -> None:
    s = seed(ledger, credits(5), slug="nocard")
    billing.save_auto_top_up(
        AutoTopUp(s.workspace_id, True, credits(100), "starter", 3), actor_user_id=s.admin_id
    )
    assert billing.top_up_if_due(s.workspace_id) is None
    [(status, error)] = runs(ledger)
    assert status == "failed" and error and "buy a pack once" in error
    assert payment_intents(fake) == []
    assert ledger.balance(s.account_id).balance == credits(5)


def test_settings_are_for_admins_checked_and_audited(
    ledger: Ledger, billing: Billing, ws: Seed
) -> None:
    wanted = AutoTopUp(ws.workspace_id, True, credits(200), "team", 5)
    with pytest.raises(NotAllowed):
        billing.save_auto_top_up(wanted, actor_user_id=ws.member_id)
    for bad, message in [
        (replace(wanted, threshold_micros=0), "more than 0"),
        (replace(wanted, monthly_limit=0), "a month"),
        (replace(wanted, monthly_limit=101), "a month"),
        (replace(wanted, offer_id="nope"), "not a pack"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            billing.save_auto_top_up(bad, actor_user_id=ws.admin_id)
    assert billing.auto_top_up(ws.workspace_id) == AutoTopUp(
        ws.workspace_id, True, credits(100), "starter", 2
    )
    billing.save_auto_top_up(wanted, actor_user_id=ws.admin_id)
    assert billing.auto_top_up(ws.workspace_id) == wanted
    with ledger.engine.connect() as conn:
        actions = conn.execute(
            sa.select(audit_events.c.action).where(audit_events.c.action == "billing.auto_top_up")
        ).all()
    assert len(actions) == 2  # the fixture's and this one; the refused ones wrote nothing
