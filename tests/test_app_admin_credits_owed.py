"""Credit admin's flag for money owed (AppTest): a refund or a lost dispute of credits already
spent leaves the workspace owing them; operators and that workspace's admins see it flagged with
the amount and the journal lines that made it, others do not, and it goes once new credits have
repaid it. My credits tells the workspace's members what they owe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page
from tests.app_harness import CREDITS, AppEnv, assert_no_exception
from tests.billing_app_harness import billing_env, texts_of
from tests.stripe_fakes import (
    FakeStripe,
    charge_refunded,
    checkout_completed,
    dispute_closed,
    running_fake_stripe,
)
from tests.stripe_objects import Obj

BOUGHT = 10_000  # the Starter pack
SPENT = 8_000


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch, fake, micros=0) as opened:
        yield opened


def bought_and_spent(env: AppEnv, fake: FakeStripe) -> Obj:
    """The member buys Starter (10,000 credits) and spends 8,000 of them; the charge paid."""
    made = env.svc.billing.start_checkout(
        workspace_id=env.workspace.id,
        user_id=env.member.id,
        kind="pack",
        offer_id="starter",
        return_url="http://localhost/credits",
        key="owed-test",
    )
    session = fake.complete_session(made.session_id)
    assert env.svc.billing.handle_event(checkout_completed(session)).outcome == "granted"
    hold = env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(SPENT),
        key="spend",
    ).hold
    env.svc.ledger.capture(hold.id, credits(SPENT), key="spend")
    return fake.get(fake.get(session["payment_intent"])["latest_charge"])


def owed_table(at: AppTest) -> object:
    found = [t.value for t in at.dataframe if "owed" in t.value.columns]
    return found[0] if found else None


def lines_table(at: AppTest) -> object:
    found = [t.value for t in at.dataframe if "owed change" in t.value.columns]
    return found[0] if found else None


FLAG = (
    "1 workspace owes 8,000 credits after refunds or lost disputes of credits already spent; "
    "their next credits repay it first."
)


@pytest.mark.parametrize("who", ["operator", "admin"])
def test_a_refund_of_spent_credits_is_flagged(env: AppEnv, fake: FakeStripe, who: str) -> None:
    charge = bought_and_spent(env, fake)
    env.svc.billing.handle_event(charge_refunded(charge))
    assert env.svc.ledger.balance(env.account_id).debt == credits(SPENT)

    at = admin_page(env, getattr(env, who))
    assert FLAG in texts_of(at, "warning")
    table = owed_table(at)
    assert table is not None
    assert table.to_dict("records") == [  # type: ignore[attr-defined]
        {"workspace": "acme", "name": "Acme", "owed": "8,000", "balance": "0", "net": "-8,000"}
    ]
    lines = lines_table(at)
    assert lines is not None
    refund = lines[lines["kind"] == "refund"]  # type: ignore[index]
    assert set(refund["Stripe object"]) == {f"{charge['id']}:refunded:{charge['amount']}"}
    assert sorted(refund["balance change"]) == ["-2,000", "0"]
    assert sorted(refund["owed change"]) == ["0", "8,000"]


def test_a_lost_dispute_is_flagged_and_a_won_one_is_not(env: AppEnv, fake: FakeStripe) -> None:
    charge = bought_and_spent(env, fake)
    env.svc.billing.handle_event(dispute_closed("won", charge))
    assert owed_table(admin_page(env, env.operator)) is None
    lost = dispute_closed("lost", charge)
    env.svc.billing.handle_event(lost)
    at = admin_page(env, env.operator)
    assert FLAG in texts_of(at, "warning")
    lines = lines_table(at)
    assert lines is not None
    [session] = fake.objects("checkout.session")
    reasons = set(lines["reason"])  # type: ignore[index]
    assert reasons == {f"lost Stripe dispute of {session['id']}: 10,000 credits taken back"}
    assert set(lines["Stripe object"]) == {lost["data"]["object"]["id"]}  # type: ignore[index]


def test_nothing_owed_nothing_flagged(env: AppEnv, fake: FakeStripe) -> None:
    bought_and_spent(env, fake)
    at = admin_page(env, env.operator)
    assert not [w for w in texts_of(at, "warning") if "owe" in w]
    assert owed_table(at) is None


def test_an_admin_of_another_workspace_does_not_see_it(env: AppEnv, fake: FakeStripe) -> None:
    env.svc.billing.handle_event(charge_refunded(bought_and_spent(env, fake)))
    beta = env.svc.ledger.create_workspace("beta", "Beta")
    bob = env.svc.ledger.create_user("bob", "Bob Beta")
    env.svc.ledger.add_member(beta.id, bob.id, "admin")
    at = admin_page(env, bob)
    assert_no_exception(at)
    assert owed_table(at) is None
    assert not [w for w in texts_of(at, "warning") if "owe" in w]
    assert FLAG in texts_of(admin_page(env, env.admin), "warning")  # acme's admin does


def test_the_flag_goes_once_new_credits_repay_the_debt(env: AppEnv, fake: FakeStripe) -> None:
    env.svc.billing.handle_event(charge_refunded(bought_and_spent(env, fake)))
    env.svc.ledger.grant(env.account_id, credits(5_000), kind="paid", key="repay-1")
    at = admin_page(env, env.operator)
    assert (
        "1 workspace owes 3,000 credits after refunds or lost disputes of credits already spent; "
        "their next credits repay it first." in texts_of(at, "warning")
    )
    env.svc.ledger.grant(env.account_id, credits(5_000), kind="paid", key="repay-2")
    at = admin_page(env, env.operator)
    assert owed_table(at) is None
    assert env.svc.ledger.balance(env.account_id).available == credits(2_000)


def test_my_credits_tells_members_what_is_owed(env: AppEnv, fake: FakeStripe) -> None:
    env.svc.billing.handle_event(charge_refunded(bought_and_spent(env, fake)))
    at = env.signed_in(env.member, CREDITS)
    assert_no_exception(at)
    assert texts_of(at, "warning") == [
        "You owe 8,000 credits after a refund; new credits repay it first."
    ]
    env.svc.ledger.grant(env.account_id, credits(SPENT), kind="paid", key="repay")
    at = env.signed_in(env.member, CREDITS)
    assert texts_of(at, "warning") == []
