"""Who may do what, checked by the service functions themselves: a member and a workspace admin
calling an operator's function are refused with ``NotAllowed`` and nothing changes; a workspace
admin manages only their own workspace; a deactivated user can do nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import db, errors
from ledger.amounts import credits
from ledger.schema import (
    audit_events,
    catalogue_switches,
    entries,
    grants,
    memberships,
    price_versions,
    users,
    workspaces,
)
from ledger.service import Ledger
from tests.conftest import Seed, reserve, seed


def snapshot(book: Ledger) -> dict[str, list[Any]]:
    """Every table an admin action can change, row by row."""
    tables = (
        entries,
        grants,
        memberships,
        users,
        workspaces,
        price_versions,
        catalogue_switches,
        audit_events,
    )
    with db.read_only_connection(book.engine) as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(sa.select(table).order_by(*table.primary_key))
            ]
            for table in tables
        }


Action = Callable[[Ledger, Seed, int], Any]

OPERATOR_ACTIONS: dict[str, Action] = {
    "top_up": lambda b, s, who: b.top_up(
        s.workspace_id, credits(5), kind="paid", actor_user_id=who, reason="r", key=f"t{who}"
    ),
    "take_back": lambda b, s, who: b.take_back(
        s.workspace_id, credits(5), actor_user_id=who, reason="r", key=f"b{who}"
    ),
    "adjust": lambda b, s, who: b.adjust(
        s.account_id, credits(5), actor_user_id=who, reason="r", key=f"a{who}"
    ),
    "void_grant": lambda b, s, who: b.void_grant(1, actor_user_id=who, reason="r", key=f"v{who}"),
    "set_price": lambda b, s, who: b.set_price(
        "demo/chat",
        feature_key="ai_text_chat",
        input_per_mtok=credits(1),
        output_per_mtok=credits(2),
        actor_user_id=who,
    ),
    "set_model_enabled": lambda b, s, who: b.set_model_enabled("openai/gpt-4o", False, who),
    "set_feature": lambda b, s, who: b.set_feature("ai_text_chat", False, actor_user_id=who),
    "set_operator": lambda b, s, who: b.set_operator(
        s.member_id, True, actor_user_id=who, reason="r"
    ),
    "audit_of_everyone": lambda b, s, who: b.audit_trail(actor_user_id=who),
}


@pytest.mark.parametrize("action", OPERATOR_ACTIONS.values(), ids=list(OPERATOR_ACTIONS))
@pytest.mark.parametrize("level", ["member", "admin"])
def test_operator_actions_refuse_members_and_workspace_admins(
    ledger: Ledger, action: Action, level: str
) -> None:
    s = seed(ledger, credits(100))
    who = s.member_id if level == "member" else s.admin_id
    before = snapshot(ledger)
    with pytest.raises(errors.NotAllowed, match="only an operator may") as refused:
        action(ledger, s, who)
    assert refused.value.actor_user_id == who
    assert snapshot(ledger) == before


WORKSPACE_ACTIONS: dict[str, Action] = {
    "add_member": lambda b, s, who: b.add_member_by_name(
        s.workspace_id, "newcomer", "member", actor_user_id=who
    ),
    "create_member": lambda b, s, who: b.create_member(
        s.workspace_id, "brand-new", "member", actor_user_id=who
    ),
    "set_role": lambda b, s, who: b.set_role(
        s.workspace_id, s.member_id, "admin", actor_user_id=who
    ),
    "set_cap": lambda b, s, who: b.set_member_cap(
        s.workspace_id, s.member_id, credits(3), actor_user_id=who
    ),
    "threshold": lambda b, s, who: b.set_low_balance_threshold(
        s.workspace_id, credits(10), actor_user_id=who
    ),
    "force_release": lambda b, s, who: b.force_release(
        reserve(b, s, credits(1), f"r{who}"), actor_user_id=who, reason="stuck", key=f"f{who}"
    ),
    "journal": lambda b, s, who: b.journal_page(s.workspace_id, actor_user_id=who),
    "holds": lambda b, s, who: b.open_holds(s.workspace_id, actor_user_id=who),
    "audit": lambda b, s, who: b.audit_trail(actor_user_id=who, workspace_id=s.workspace_id),
}


@pytest.mark.parametrize("action", WORKSPACE_ACTIONS.values(), ids=list(WORKSPACE_ACTIONS))
def test_a_workspace_admin_cannot_touch_another_workspace(ledger: Ledger, action: Action) -> None:
    acme = seed(ledger, credits(100), slug="acme")
    other = seed(ledger, credits(100), slug="globex")
    ledger.create_user("newcomer")
    before = snapshot(ledger)
    with pytest.raises(errors.NotAllowed, match="only an admin of this workspace or an operator"):
        action(ledger, other, acme.admin_id)
    # The hold a force-release test makes is the member's own reserve, not the admin's action.
    after = snapshot(ledger)
    if action is not WORKSPACE_ACTIONS["force_release"]:
        assert after == before
    # A member of the workspace itself is refused too.
    with pytest.raises(errors.NotAllowed):
        action(ledger, acme, acme.member_id)


@pytest.mark.parametrize("action", WORKSPACE_ACTIONS.values(), ids=list(WORKSPACE_ACTIONS))
def test_a_workspace_admin_and_an_operator_run_the_workspace(
    ledger: Ledger, action: Action
) -> None:
    s = seed(ledger, credits(100))
    ledger.create_user("newcomer")
    action(ledger, s, s.admin_id)
    other = seed(ledger, credits(100), slug="globex")
    ledger.create_user("newcomer2")
    if action is WORKSPACE_ACTIONS["add_member"]:
        action = lambda b, s, who: b.add_member_by_name(  # noqa: E731
            s.workspace_id, "newcomer2", "member", actor_user_id=who
        )
    if action is WORKSPACE_ACTIONS["create_member"]:
        action = lambda b, s, who: b.create_member(  # noqa: E731
            s.workspace_id, "brand-new-2", "member", actor_user_id=who
        )
    action(ledger, other, s.operator_id)  # an operator runs every workspace


def test_a_workspace_admin_cannot_grant_their_own_workspace_credits(
    ledger: Ledger, seeded: Seed
) -> None:
    before = ledger.balance(seeded.account_id)
    for attempt in (
        lambda: ledger.top_up(
            seeded.workspace_id,
            credits(50),
            kind="promo",
            actor_user_id=seeded.admin_id,
            reason="for us",
            key="self",
        ),
        lambda: ledger.adjust(
            seeded.account_id, credits(50), actor_user_id=seeded.admin_id, reason="x", key="self2"
        ),
    ):
        with pytest.raises(errors.NotAllowed):
            attempt()
    assert ledger.balance(seeded.account_id) == before


def test_a_deactivated_user_cannot_spend_or_act(ledger: Ledger, seeded: Seed) -> None:
    ledger.set_user_active(seeded.member_id, False, actor_user_id=seeded.admin_id, reason="left")
    before = snapshot(ledger)
    with pytest.raises(errors.UserDeactivated, match="deactivated"):
        reserve(ledger, seeded, credits(1), "after-leaving")
    assert snapshot(ledger) == before
    # Their history stays; nobody deactivates themselves; a deactivated admin runs nothing.
    assert ledger.history(seeded.account_id)
    with pytest.raises(errors.InvalidInput, match="yourself"):
        ledger.set_user_active(
            seeded.operator_id, False, actor_user_id=seeded.operator_id, reason="tired"
        )
    ledger.set_user_active(seeded.admin_id, False, actor_user_id=seeded.operator_id, reason="gone")
    with pytest.raises(errors.UnknownUser, match="no active user"):
        ledger.set_low_balance_threshold(seeded.workspace_id, None, actor_user_id=seeded.admin_id)
    ledger.set_user_active(seeded.member_id, True, actor_user_id=seeded.operator_id, reason="back")
    reserve(ledger, seeded, credits(1), "back-again")


def test_a_workspace_admin_cannot_deactivate_an_operator(ledger: Ledger, seeded: Seed) -> None:
    """Even an operator who is a plain member of the admin's only workspace."""
    ledger.add_member(seeded.workspace_id, seeded.operator_id, "member")
    before = snapshot(ledger)
    with pytest.raises(errors.NotAllowed, match="only an operator"):
        ledger.set_user_active(
            seeded.operator_id, False, actor_user_id=seeded.admin_id, reason="power grab"
        )
    assert snapshot(ledger) == before
    assert ledger.is_active(seeded.operator_id)


def test_a_workspace_keeps_one_admin(ledger: Ledger, seeded: Seed) -> None:
    with pytest.raises(errors.InvalidInput, match="at least one admin"):
        ledger.set_role(
            seeded.workspace_id, seeded.admin_id, "member", actor_user_id=seeded.admin_id
        )
    assert ledger.membership(seeded.workspace_id, seeded.admin_id).role == "admin"  # type: ignore[union-attr]
