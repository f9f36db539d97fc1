"""The way back from Stripe Checkout (AppTest, Stripe as the loopback fake through the real SDK):
My credits opened with ``?checkout=<session id>`` fulfils a paid session once however often it
is loaded, says "credits arriving" for an unpaid one and shows the credits when they land, opens
the workspace the checkout was for, and credits nothing for another workspace's session, an
unknown id, garbage, or a cancelled checkout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from ledger.owners import User
from ledger.schema import grants
from tests.app_harness import CREDITS, AppEnv, assert_no_exception, metrics
from tests.billing_app_harness import billing_env, count, money_state, texts_of
from tests.stripe_fakes import (
    FakeStripe,
    checkout_async_succeeded,
    checkout_completed,
    event,
    running_fake_stripe,
    subscription_event,
)
from workbench.billing.service import NOT_CONFIGURED
from workbench.ui.checkout_return import CREDITS_ARRIVING, MESSAGES
from workbench.ui.session import SESSION_KEY, WORKSPACE_KEY

RETURN = "http://localhost/credits"
SEEDED = 50_000


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch, fake, micros=credits(SEEDED)) as opened:
        yield opened


def started(env: AppEnv, user: User, offer: str = "starter", *, workspace_id: int = 0) -> str:
    """A checkout as "Buy" starts it; its session id."""
    kind = "plan" if offer.endswith("monthly") else "pack"
    made = env.svc.billing.start_checkout(
        workspace_id=workspace_id or env.workspace.id,
        user_id=user.id,
        kind=kind,  # type: ignore[arg-type]
        offer_id=offer,
        return_url=RETURN,
        key=f"test-{offer}-{user.id}-{workspace_id}",
    )
    return made.session_id


def returning(env: AppEnv, user: User, checkout: str, **params: str) -> AppTest:
    """A new tab on My credits at the address Stripe sends the buyer back to."""
    at = env.app()
    at.session_state[SESSION_KEY] = env.sign_in_session(user)
    at.query_params["checkout"] = checkout
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    at.switch_page(CREDITS).run()
    assert_no_exception(at)
    return at


def retrievals(fake: FakeStripe, session_id: str) -> int:
    return len(fake.requests_to("GET", f"/v1/checkout/sessions/{session_id}"))


def test_a_paid_checkout_is_credited_once_however_often_the_page_loads(
    env: AppEnv, fake: FakeStripe
) -> None:
    session_id = started(env, env.member)
    fake.complete_session(session_id)

    at = returning(env, env.member, session_id)
    assert texts_of(at, "success") == ["Payment received: 10,000 credits added. Thank you!"]
    assert metrics(at)["Available"] == f"{SEEDED + 10_000:,}"
    at.run()
    at.run()
    assert retrievals(fake, session_id) == 1  # reruns of the tab do not ask Stripe again

    again = returning(env, env.member, session_id)  # a reload, or the link opened twice
    assert texts_of(again, "success") == texts_of(at, "success")
    # Then Stripe's webhook reports the same payment.
    late = env.svc.billing.handle_event(checkout_completed(fake.get(session_id)))
    assert late.outcome == "already granted"
    assert env.available() == credits(SEEDED + 10_000)
    assert count(env, grants, reference=f"stripe:{session_id}") == 1
    assert env.svc.ledger.verify() == []


def test_an_unpaid_checkout_says_credits_arriving_until_they_land(
    env: AppEnv, fake: FakeStripe
) -> None:
    session_id = started(env, env.member)
    fake.complete_session(session_id, paid=False)  # a bank debit, still processing
    before = money_state(env)

    at = returning(env, env.member, session_id)
    assert texts_of(at, "info") == [CREDITS_ARRIVING]
    assert texts_of(at, "success") == []
    assert money_state(env) == before  # nothing granted for an unpaid session

    fake.succeed_async(session_id)
    env.svc.billing.handle_event(checkout_async_succeeded(fake.get(session_id)))
    at.run()  # the watcher's next poll
    assert_no_exception(at)
    assert texts_of(at, "info") == []
    assert texts_of(at, "success") == ["Payment received: 10,000 credits added. Thank you!"]
    assert metrics(at)["Available"] == f"{SEEDED + 10_000:,}"
    assert count(env, grants, reference=f"stripe:{session_id}") == 1
    assert retrievals(fake, session_id) == 1


def test_another_workspaces_checkout_credits_nothing_here(env: AppEnv, fake: FakeStripe) -> None:
    other = env.svc.ledger.create_workspace("beta", "Beta")
    env.svc.ledger.add_member(other.id, env.other.id, "member")
    session_id = started(env, env.other, workspace_id=other.id)
    fake.complete_session(session_id)
    before = money_state(env)

    # The member (not in beta) comes back with beta's paid session, naming beta or not.
    for params in ({}, {"workspace": str(other.id)}):
        at = returning(env, env.member, session_id, **params)
        assert texts_of(at, "error") == [MESSAGES["not_ours"]]
        assert texts_of(at, "success") == []
        assert WORKSPACE_KEY not in at.session_state  # not a member of beta: no switch
    assert money_state(env) == before
    assert env.svc.ledger.balance(other.account_id).balance == 0
    assert count(env, grants, reference=f"stripe:{session_id}") == 0


@pytest.mark.parametrize(
    "garbage",
    ["abc", "{CHECKOUT_SESSION_ID}", "cs_test/../../customers", "pi_123", "cs_" + "x" * 300, ""],
)
def test_garbage_is_refused_without_asking_stripe(
    env: AppEnv, fake: FakeStripe, garbage: str
) -> None:
    before = money_state(env)
    at = returning(env, env.member, garbage)
    assert texts_of(at, "error") == [MESSAGES["unknown"]]
    assert fake.requests == []
    assert money_state(env) == before


def test_an_unknown_session_is_refused(env: AppEnv, fake: FakeStripe) -> None:
    before = money_state(env)
    at = returning(env, env.member, "cs_test_nosuchsession")
    assert texts_of(at, "error") == [MESSAGES["unknown"]]
    assert retrievals(fake, "cs_test_nosuchsession") == 1
    assert money_state(env) == before


def test_a_cancelled_checkout_charges_nothing(env: AppEnv, fake: FakeStripe) -> None:
    before = money_state(env)
    at = returning(env, env.member, "cancelled")
    assert texts_of(at, "info") == ["Checkout cancelled, nothing was charged."]
    assert fake.requests == []
    assert money_state(env) == before


def test_the_return_opens_the_workspace_the_checkout_was_for(env: AppEnv, fake: FakeStripe) -> None:
    """Stripe's return is a new tab, which opens the person's first workspace: the return URL
    names the one paid for, and the page switches to it."""
    second = env.svc.ledger.create_workspace("zeta", "Zeta")
    env.svc.ledger.add_member(second.id, env.member.id, "member")
    session_id = started(env, env.member, workspace_id=second.id)
    fake.complete_session(session_id)

    at = returning(env, env.member, session_id, workspace=str(second.id))
    assert at.session_state[WORKSPACE_KEY] == second.id
    assert "workspace" not in at.query_params
    assert texts_of(at, "success") == ["Payment received: 10,000 credits added. Thank you!"]
    assert env.svc.ledger.balance(second.account_id).available == credits(10_000)
    assert env.available() == credits(SEEDED)


def test_a_subscription_checkout_waits_for_the_first_invoice(env: AppEnv, fake: FakeStripe) -> None:
    session_id = started(env, env.admin, "team-monthly")
    session = fake.complete_session(session_id)
    at = returning(env, env.admin, session_id)
    assert texts_of(at, "info") == [MESSAGES["subscribed"]]
    assert env.available() == credits(SEEDED)

    env.svc.billing.handle_event(subscription_event("created", fake.get(session["subscription"])))
    env.svc.billing.handle_event(event("invoice.paid", fake.get(session["invoice"])))
    at.run()
    assert_no_exception(at)
    assert texts_of(at, "success") == ["Payment received: 60,000 credits added. Thank you!"]
    assert env.available() == credits(SEEDED + 60_000)


def test_without_keys_the_return_says_purchases_are_not_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with billing_env(tmp_path, monkeypatch) as plain:
        before = money_state(plain)
        at = returning(plain, plain.member, "cs_test_whatever")
        assert NOT_CONFIGURED in texts_of(at, "info")
        assert texts_of(at, "success") == []
        assert money_state(plain) == before
