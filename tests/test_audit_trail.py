"""Every admin mutation leaves exactly one audit event, written in its own transaction, with who,
what, the target, the reason and the values before and after; the table refuses UPDATE and
DELETE on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ledger import db
from ledger.amounts import credits
from ledger.audit import AuditEvent
from ledger.schema import audit_events
from ledger.service import Ledger
from tests.conftest import Seed, reserve, seed


def _events(book: Ledger, s: Seed) -> list[AuditEvent]:
    return book.audit_trail(actor_user_id=s.operator_id, limit=1000)


Case = tuple[Callable[[Ledger, Seed], Any], str, str, dict[str, Any] | None, dict[str, Any]]

CASES: dict[str, Case] = {
    "top_up": (
        lambda b, s: b.top_up(
            s.workspace_id,
            credits(5),
            kind="promo",
            actor_user_id=s.operator_id,
            reason="why",
            key="t",
        ),
        "credits.top_up",
        "grant",
        {"balance": credits(100), "held": 0, "available": credits(100)},
        {"balance": credits(105), "held": 0, "available": credits(105), "kind": "promo"},
    ),
    "take_back": (
        lambda b, s: b.take_back(
            s.workspace_id, credits(40), actor_user_id=s.operator_id, reason="why", key="b"
        ),
        "credits.take_back",
        "workspace",
        {"balance": credits(100), "held": 0, "available": credits(100)},
        {"balance": credits(60), "held": 0, "available": credits(60)},
    ),
    "adjust": (
        lambda b, s: b.adjust(
            s.account_id, credits(-1), actor_user_id=s.operator_id, reason="why", key="a"
        ),
        "credits.adjust",
        "workspace",
        {"balance": credits(100), "available": credits(100)},
        {"balance": credits(99), "available": credits(99), "delta": credits(-1)},
    ),
    "void_grant": (
        lambda b, s: b.void_grant(1, actor_user_id=s.operator_id, reason="why", key="v"),
        "credits.void_grant",
        "grant",
        {
            "balance": credits(100),
            "held": 0,
            "available": credits(100),
            "grant_remaining": credits(100),
        },
        {"balance": 0, "held": 0, "available": 0, "grant_remaining": 0},
    ),
    "set_cap": (
        lambda b, s: b.set_member_cap(
            s.workspace_id, s.member_id, credits(7), actor_user_id=s.admin_id
        ),
        "member.cap",
        "membership",
        {"role": "member", "monthly_cap": None},
        {"role": "member", "monthly_cap": credits(7)},
    ),
    "set_role": (
        lambda b, s: b.set_role(s.workspace_id, s.member_id, "admin", actor_user_id=s.admin_id),
        "member.role",
        "membership",
        {"role": "member", "monthly_cap": None},
        {"role": "admin", "monthly_cap": None},
    ),
    "threshold": (
        lambda b, s: b.set_low_balance_threshold(
            s.workspace_id, credits(9), actor_user_id=s.admin_id
        ),
        "workspace.threshold",
        "workspace",
        {"low_balance_threshold": None},
        {"low_balance_threshold": credits(9)},
    ),
    "deactivate": (
        lambda b, s: b.set_user_active(s.member_id, False, actor_user_id=s.admin_id, reason="why"),
        "user.deactivate",
        "user",
        {"active": True},
        {"active": False},
    ),
    "create_member": (
        lambda b, s: b.create_member(
            s.workspace_id, "newbie", "member", actor_user_id=s.admin_id, email="n@example.com"
        ),
        "member.create",
        "membership",
        None,
        {"username": "newbie", "email": "n@example.com", "role": "member", "monthly_cap": None},
    ),
    "add_member": (
        lambda b, s: (
            b.create_user("loner"),
            b.add_member_by_name(s.workspace_id, "loner", "member", actor_user_id=s.admin_id),
        ),
        "member.add",
        "membership",
        None,
        {"role": "member", "monthly_cap": None},
    ),
    "force_release": (
        lambda b, s: b.force_release(
            reserve(b, s, credits(3), "r"), actor_user_id=s.admin_id, reason="stuck", key="f"
        ),
        "hold.force_release",
        "hold",
        {"status": "pending", "amount": credits(3)},
        {"status": "released"},
    ),
    "operator": (
        lambda b, s: b.set_operator(s.member_id, True, actor_user_id=s.operator_id, reason="why"),
        "user.operator",
        "user",
        {"operator": False},
        {"operator": True},
    ),
    "feature_off": (
        lambda b, s: b.set_feature(
            "ai_text_chat", False, "Back soon.", actor_user_id=s.operator_id, reason="why"
        ),
        "feature.switch",
        "feature",
        None,
        {"enabled": False, "message": "Back soon."},
    ),
    "price": (
        lambda b, s: b.set_price(
            "demo/chat",
            feature_key="ai_text_chat",
            input_per_mtok=credits(1),
            output_per_mtok=credits(2),
            actor_user_id=s.operator_id,
            reason="why",
        ),
        "price.change",
        "model",
        {
            "feature_key": "ai_text_chat",
            "input_per_mtok": credits(100),
            "output_per_mtok": credits(400),
            "images": {},
        },
        {
            "feature_key": "ai_text_chat",
            "input_per_mtok": credits(1),
            "output_per_mtok": credits(2),
            "images": {},
            "version": 2,
        },
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_each_mutation_leaves_exactly_one_event(ledger: Ledger, case: Case) -> None:
    s = seed(ledger, credits(100))
    mutate, action, target_kind, before, after = case
    already = _events(ledger, s)
    mutate(ledger, s)
    everything = _events(ledger, s)  # newest first
    new = everything[: len(everything) - len(already)]
    assert [(e.action, e.target_kind) for e in new] == [(action, target_kind)]
    (event,) = new
    assert (event.before, event.after) == (before, after)
    assert event.created_at == ledger.now()
    assert ledger.verify() == []


def test_a_replayed_top_up_records_nothing_more(ledger: Ledger, seeded: Seed) -> None:
    def top_up() -> Any:
        return ledger.top_up(
            seeded.workspace_id,
            credits(5),
            kind="paid",
            actor_user_id=seeded.operator_id,
            reason="invoice 17",
            key="confirm-1",
        )

    first, second = top_up(), top_up()
    assert (first.replayed, second.replayed) == (False, True)
    tops = [e for e in _events(ledger, seeded) if e.action == "credits.top_up"]
    assert len(tops) == 1
    assert (tops[0].actor, tops[0].reason, tops[0].workspace) == (
        "acme-operator",
        "invoice 17",
        "acme",
    )


def test_a_failed_mutation_leaves_no_event(ledger: Ledger, seeded: Seed) -> None:
    before = _events(ledger, seeded)
    reserve(ledger, seeded, credits(990), "busy")
    with pytest.raises(Exception, match="only 10 available"):
        ledger.take_back(
            seeded.workspace_id, credits(20), actor_user_id=seeded.operator_id, reason="x", key="k"
        )
    assert _events(ledger, seeded) == before


@pytest.mark.parametrize(
    "statement",
    [audit_events.update().values(reason="rewritten"), audit_events.delete()],
    ids=["update", "delete"],
)
def test_the_audit_trail_is_append_only(
    ledger: Ledger, seeded: Seed, statement: sa.Executable
) -> None:
    ledger.set_low_balance_threshold(seeded.workspace_id, credits(1), actor_user_id=seeded.admin_id)
    before = _events(ledger, seeded)
    with (
        pytest.raises(DBAPIError, match="append-only"),
        db.write_transaction(ledger.engine) as conn,
    ):
        conn.execute(statement)
    assert _events(ledger, seeded) == before
