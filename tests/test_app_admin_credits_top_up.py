"""Credit admin, credits in and out (operators): a top-up confirmed in a dialog adds exactly the
amount once, with one audit row holding the balance before and after, however often Confirm is
clicked or the page reruns; take back and voiding a grant write compensating entries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page, errors, shown, submit
from tests.app_harness import AppEnv, app_env, metrics
from workbench.admin.confirmations import PENDING_KEY

SEEDED = 1_000


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(SEEDED)) as opened:
        yield opened


def review_top_up(at: AppTest, amount: str, reason: str, **extra: object) -> AppTest:
    at.text_input(key="top_up_amount").set_value(amount)
    at.text_input(key="top_up_reason").set_value(reason)
    if "kind" in extra:
        at.selectbox(key="top_up_kind").set_value(extra["kind"])
    if "expires" in extra:
        at.date_input(key="top_up_expiry").set_value(extra["expires"])
    if "priority" in extra:
        at.number_input(key="top_up_priority").set_value(extra["priority"])
    return submit(at, "Review top-up")


def audit(env: AppEnv, action: str) -> list[object]:
    events = env.svc.ledger.audit_trail(actor_user_id=env.operator.id, action=action)
    return list(events)


def test_a_top_up_confirmed_in_the_dialog_adds_the_amount_once(env: AppEnv) -> None:
    at = admin_page(env, env.operator)
    at = review_top_up(
        at, "250.5", "Invoice 1042", kind="promo", expires=date.today() + timedelta(days=30)
    )
    assert errors(at) == []
    # The dialog shows the balance before and after; nothing is written yet.
    dialog = shown(at)
    assert (dialog["Balance now"], dialog["Balance after"]) == ("1,000", "1,250.5")
    assert env.svc.ledger.balance(env.account_id).balance == credits(SEEDED)
    pending = at.session_state[PENDING_KEY]

    at = submit(at, "Confirm")
    assert errors(at) == []
    assert PENDING_KEY not in at.session_state  # the next top-up gets a new key
    assert env.svc.ledger.balance(env.account_id).balance == credits(SEEDED) + credits("250.5")
    assert "Credits added." in [t.value for t in at.toast]
    assert metrics(at)["Balance"] == "1,250.5"
    [event] = audit(env, "credits.top_up")
    assert event.actor == env.operator.username and event.reason == "Invoice 1042"
    assert event.before["balance"] == credits(SEEDED)
    assert event.after["balance"] == credits(SEEDED) + credits("250.5")
    assert event.after["kind"] == "promo"
    [grant] = [
        g
        for g in env.svc.ledger.grants_of(env.workspace.id, actor_user_id=env.operator.id)
        if g.kind == "promo"
    ]
    assert grant.amount == credits("250.5") and grant.expires_at is not None
    assert grant.expires_at > datetime.now(UTC) + timedelta(days=29)

    # A rerun grants nothing; a second click of Confirm with the same key (the dialog as it
    # was, e.g. a double click) is answered from the key: still one grant.
    at.run()
    at.session_state[PENDING_KEY] = pending
    at.run()
    at = submit(at, "Confirm")
    assert errors(at) == []
    assert "Already done: nothing changed." in [t.value for t in at.toast]
    assert env.svc.ledger.balance(env.account_id).balance == credits(SEEDED) + credits("250.5")
    assert len(audit(env, "credits.top_up")) == 1
    assert len([e for e in env.entries() if e.kind == "grant"]) == 2  # the seed and this one


def test_cancel_writes_nothing(env: AppEnv) -> None:
    at = review_top_up(admin_page(env, env.operator), "10", "Trial")
    at = submit(at, "Cancel")
    assert PENDING_KEY not in at.session_state
    assert env.svc.ledger.balance(env.account_id).balance == credits(SEEDED)
    assert audit(env, "credits.top_up") == []


def test_take_back_and_void_write_compensating_entries(env: AppEnv) -> None:
    ledger = env.svc.ledger
    at = admin_page(env, env.operator)
    at.text_input(key="take_back_amount").set_value("100")
    at.text_input(key="take_back_reason").set_value("Refunded by card")
    at = submit(at, "Review take-back")
    assert shown(at)["Balance after"] == "900"
    at = submit(at, "Confirm")
    assert errors(at) == []
    assert ledger.balance(env.account_id).balance == credits(900)
    [taken] = [e for e in env.entries() if e.kind == "adjustment"]
    assert taken.balance_delta == -credits(100) and taken.reason == "Refunded by card"

    # Void what is left of the seed grant: one more adjustment naming it; the grant stays.
    [seed] = ledger.grants_of(env.workspace.id, actor_user_id=env.operator.id)
    at.selectbox(key="void_grant_id").set_value(seed.id)
    at.text_input(key="void_grant_reason").set_value("Contract ended")
    at = submit(at, "Review void")
    assert shown(at)["Balance after"] == "0"
    at = submit(at, "Confirm")
    assert errors(at) == []
    assert ledger.balance(env.account_id).balance == 0
    voided = [e for e in env.entries() if e.kind == "adjustment"][-1]
    assert (voided.balance_delta, voided.grant_id) == (-credits(900), seed.id)
    assert [e.action for e in ledger.audit_trail(actor_user_id=env.operator.id, limit=2)] == [
        "credits.void_grant",
        "credits.take_back",
    ]
    assert [e.kind for e in env.entries()].count("grant") == 1  # never edited, never removed
