"""Credit admin, members (a workspace admin): add an existing user, create one (with a password
shown once that signs them in), change a role, set and clear a monthly cap, deactivate and
reactivate; each leaves its audit row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page, errors, submit, table_with
from tests.app_harness import AppEnv, app_env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(100)) as opened:
        yield opened


def actions(env: AppEnv) -> list[str]:
    events = env.svc.ledger.audit_trail(actor_user_id=env.operator.id, limit=1000)
    return [e.action for e in reversed(events) if e.actor == env.admin.username]


def test_add_and_create_members(env: AppEnv) -> None:
    ledger = env.svc.ledger
    zed = ledger.create_user("zed", "Zed Zero")  # a user of no workspace yet
    at = admin_page(env, env.admin)
    at.text_input(key="add_member_username").set_value("zed")
    at = submit(at, "Add member")
    assert errors(at) == []
    membership = ledger.membership(env.workspace.id, zed.id)
    assert membership is not None and membership.role == "member"
    assert "zed" in list(table_with(at, "username")["username"])

    at.text_input(key="create_member_username").set_value("nina")
    at.text_input(key="create_member_name").set_value("Nina New")
    at.text_input(key="create_member_email").set_value("nina@example.com")
    at.selectbox(key="create_member_role").set_value("admin")
    at = submit(at, "Create member")
    assert errors(at) == []
    nina = ledger.user("nina")
    assert ledger.membership(env.workspace.id, nina.id).role == "admin"  # type: ignore[union-attr]
    username, password = [c.value for c in at.code]
    assert username == "nina" and len(password) >= 10
    assert env.svc.logins.check(ledger, "nina", password) == nina
    at.run()
    assert [c.value for c in at.code] == []  # shown once
    assert actions(env) == ["member.add", "member.create"]  # one event per action


def test_role_cap_and_deactivation(env: AppEnv) -> None:
    ledger = env.svc.ledger
    at = admin_page(env, env.admin)

    at.selectbox(key="role_member").set_value(env.member.id)
    at.selectbox(key="role_value").set_value("admin")
    at = submit(at, "Change role")
    assert ledger.membership(env.workspace.id, env.member.id).role == "admin"  # type: ignore[union-attr]

    at.selectbox(key="cap_member").set_value(env.other.id)
    at.text_input(key="cap_value").set_value("25.5")
    at = submit(at, "Set cap")
    assert errors(at) == []
    cap = ledger.membership(env.workspace.id, env.other.id).monthly_cap  # type: ignore[union-attr]
    assert cap == credits("25.5")
    members = table_with(at, "username").set_index("username")
    assert members.loc[env.other.username, "monthly cap"] == "25.5"
    at.text_input(key="cap_value").set_value("")
    at = submit(at, "Set cap")
    assert ledger.membership(env.workspace.id, env.other.id).monthly_cap is None  # type: ignore[union-attr]

    at.selectbox(key="active_member").set_value(env.other.id)
    at.text_input(key="active_reason").set_value("Left the company")
    at = submit(at, "Deactivate")
    assert errors(at) == []
    assert ledger.is_active(env.other.id) is False
    members = table_with(at, "username").set_index("username")
    assert not members.loc[env.other.username, "active"]
    at = submit(at, "Reactivate")
    assert ledger.is_active(env.other.id) is True

    assert actions(env) == [
        "member.role",
        "member.cap",
        "member.cap",
        "user.deactivate",
        "user.activate",
    ]
    [deactivated] = ledger.audit_trail(actor_user_id=env.operator.id, action="user.deactivate")
    assert (deactivated.reason, deactivated.before, deactivated.after) == (
        "Left the company",
        {"active": True},
        {"active": False},
    )
