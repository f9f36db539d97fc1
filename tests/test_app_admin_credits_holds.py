"""Credit admin, holds in flight: shown with their user, model, amount, age and time left; a
workspace admin releases one by hand with a reason, confirmed once, and the credits are back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page, errors, shown, submit, table_with
from tests.app_harness import AppEnv, app_env, metrics
from workbench.admin.confirmations import PENDING_KEY


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(100)) as opened:
        yield opened


def test_an_admin_force_releases_a_hold(env: AppEnv) -> None:
    ledger = env.svc.ledger
    outcome = ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(5),
        key="h1",
    )
    hold_id = outcome.hold.id
    at = admin_page(env, env.admin)
    table = table_with(at, "time left")
    assert table.to_dict("records")[0] | {"age": "", "time left": ""} == {
        "hold": hold_id,
        "user": env.member.username,
        "feature": "ai_text_chat",
        "model": "demo/chat",
        "amount": "5",
        "age": "",
        "time left": "",
    }
    assert metrics(at)["Held"] == "5"

    at.selectbox(key="release_hold_id").set_value(hold_id)
    at.text_input(key="release_reason").set_value("The call never came back")
    at = submit(at, "Review release")
    dialog = shown(at)
    assert (dialog["Available now"], dialog["Available after"]) == ("95", "100")
    at = submit(at, "Confirm")
    assert errors(at) == []
    assert PENDING_KEY not in at.session_state
    assert ledger.hold(hold_id).status == "released"
    balance = ledger.balance(env.account_id)
    assert (balance.balance, balance.held) == (credits(100), 0)
    assert [e.kind for e in env.entries()][-1] == "release"
    [event] = ledger.audit_trail(actor_user_id=env.operator.id, action="hold.force_release")
    assert (event.actor, event.reason) == (env.admin.username, "The call never came back")
    assert event.before == {"status": "pending", "amount": credits(5)}
    assert "No holds in flight." in [c.value for c in at.caption]
    assert metrics(at)["Held"] == "0"
