"""Credit admin by level: an operator sees and opens every workspace, a workspace admin only the
ones they run; the low-balance threshold is set and cleared; "Verify ledger" says the ledger is
consistent; the audit trail shows who did what, with before and after as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page, errors, submit, table_with
from tests.app_harness import AppEnv, app_env, metrics, texts


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(2_000)) as opened:
        yield opened


def test_an_operator_sees_every_workspace_and_an_admin_only_theirs(env: AppEnv) -> None:
    ledger = env.svc.ledger
    beta = ledger.create_workspace("beta", "Beta")
    ledger.grant(beta.account_id, credits(7), kind="paid", key="beta-seed")

    at = admin_page(env, env.operator)
    accounts = table_with(at, "spent this month")
    assert list(accounts["workspace"]) == ["acme", "beta"]
    assert at.selectbox(key="accounts_open").value == env.workspace.id  # their own, first
    at.text_input(key="accounts_search").set_value("bet").run()
    assert list(table_with(at, "spent this month")["workspace"]) == ["beta"]
    at.selectbox(key="accounts_sort").set_value("Available (lowest first)").run()
    at.text_input(key="accounts_search").set_value("").run()
    assert list(table_with(at, "spent this month")["workspace"]) == ["beta", "acme"]
    at.selectbox(key="accounts_open").set_value(beta.id).run()
    assert metrics(at)["Balance"] == "7"

    admin = admin_page(env, env.admin)
    assert list(table_with(admin, "spent this month")["workspace"]) == ["acme"]


def test_threshold_verify_and_audit(env: AppEnv) -> None:
    ledger = env.svc.ledger
    at = admin_page(env, env.admin)
    at.text_input(key="threshold").set_value("500")
    at = submit(at, "Save threshold")
    assert errors(at) == []

    def threshold() -> int | None:
        [acme] = ledger.account_overviews(actor_user_id=env.admin.id)
        return acme.low_balance_threshold

    assert threshold() == credits(500)
    assert list(table_with(at, "spent this month")["low-balance threshold"]) == ["500"]
    at.text_input(key="threshold").set_value(" ")
    at = submit(at, "Save threshold")
    assert threshold() is None

    at = submit(at, "Verify ledger")
    assert errors(at) == []
    [line] = texts(at, "success")
    assert line.startswith("The ledger is consistent")

    at.selectbox(key="audit_action").set_value("workspace.threshold").run()
    audit = table_with(at, "before")
    assert list(audit["action"]) == ["workspace.threshold"] * 2
    assert list(audit["by"]) == [env.admin.username] * 2
    assert json.loads(audit["after"].iloc[1]) == {"low_balance_threshold": credits(500)}
    # A workspace admin has no "every workspace" switch; an operator has.
    assert [t.key for t in at.toggle] == []
    assert [t.key for t in admin_page(env, env.operator).toggle] == ["audit_everywhere"]
