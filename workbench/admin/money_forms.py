"""Credit admin's money forms: top up and take back (operators), void a grant's remainder
(operators) and release a hold by hand (admins and operators). Each form only reviews: the
action itself waits for Confirm in ``confirmations``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from ledger.admin_views import AccountOverview
from ledger.amounts import format_credits
from ledger.errors import LedgerError
from workbench.admin import credit_admin as logic
from workbench.admin.confirmations import Pending, review
from workbench.bootstrap import Services
from workbench.ui.messages import sentence
from workbench.ui.session import SignedIn


def top_up_form(account: AccountOverview) -> None:
    with st.form("admin_top_up"):
        st.caption("Credits into this workspace, as a grant.")
        typed = st.text_input("Amount (credits)", key="top_up_amount")
        kind = st.selectbox("Kind", logic.TOP_UP_KINDS, key="top_up_kind")
        day = st.date_input("Expires at the end of (UTC, optional)", None, key="top_up_expiry")
        rank = st.number_input("Priority (optional)", value=None, step=1, key="top_up_priority")
        why = st.text_input("Reason (for the audit trail)", key="top_up_reason")
        if not st.form_submit_button("Review top-up"):
            return
    try:
        micros = logic.amount(typed)
        expires_at = logic.expiry(day, datetime.now(UTC))
        args: dict[str, Any] = {
            "workspace_id": account.workspace_id,
            "amount": micros,
            "kind": kind,
            "expires_at": expires_at,
            "priority": logic.priority(rank),
            "reason": logic.reason(why),
        }
    except LedgerError as error:
        st.error(sentence(error))
        return
    details = {
        "workspace": account.slug,
        "amount": f"{format_credits(micros)} credits",
        "kind": kind,
        "expires (UTC)": logic.when(expires_at) or "never",
        "priority": "default" if args["priority"] is None else str(args["priority"]),
        "reason": args["reason"],
    }
    review(Pending("top_up", "Top up", account.account_id, micros, 0, details, args))


def take_back_form(account: AccountOverview) -> None:
    with st.form("admin_take_back"):
        st.caption("Credits out of this workspace (never more than is available).")
        typed = st.text_input("Amount (credits)", key="take_back_amount")
        why = st.text_input("Reason (for the audit trail)", key="take_back_reason")
        if not st.form_submit_button("Review take-back"):
            return
    try:
        micros = logic.amount(typed)
        args: dict[str, Any] = {
            "workspace_id": account.workspace_id,
            "amount": micros,
            "reason": logic.reason(why),
        }
    except LedgerError as error:
        st.error(sentence(error))
        return
    details = {
        "workspace": account.slug,
        "amount": f"{format_credits(micros)} credits",
        "reason": args["reason"],
    }
    review(Pending("take_back", "Take back", account.account_id, -micros, 0, details, args))


def grants_section(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    grants = svc.ledger.grants_of(account.workspace_id, actor_user_id=who.user.id)
    if not grants:
        st.caption("No grants with credits left.")
        return
    st.dataframe(logic.grants_table(grants), hide_index=True, width="stretch")
    if not who.is_operator:
        return
    left = {g.id: g.remaining for g in grants}
    picked = _pick_with_reason(
        "admin_void_grant",
        "Void what is left of a grant (a compensating entry; the grant stays).",
        ("Grant", "void_grant_id", left, "credits left"),
        ("void_grant_reason", "Review void"),
    )
    if picked is None:
        return
    grant_id, why = picked
    details = {"grant": f"#{grant_id}", "voided": f"{format_credits(left[grant_id])} credits"}
    args = {"grant_id": grant_id, "reason": why}
    review(
        Pending(
            "void_grant",
            "Void a grant",
            account.account_id,
            -left[grant_id],
            0,
            {**details, "reason": why},
            args,
        )
    )


def holds_section(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    holds = svc.ledger.open_holds(account.workspace_id, actor_user_id=who.user.id)
    if not holds:
        st.caption("No holds in flight.")
        return
    st.dataframe(logic.holds_table(holds, datetime.now(UTC)), hide_index=True, width="stretch")
    amounts = {h.id: h.amount for h in holds}
    picked = _pick_with_reason(
        "admin_force_release",
        "Give a hold back by hand (a call that will never settle).",
        ("Hold", "release_hold_id", amounts, "credits"),
        ("release_reason", "Review release"),
    )
    if picked is None:
        return
    hold_id, why = picked
    details = {"hold": f"#{hold_id}", "released": f"{format_credits(amounts[hold_id])} credits"}
    args = {"hold_id": hold_id, "reason": why}
    review(
        Pending(
            "force_release",
            "Release a hold",
            account.account_id,
            0,
            -amounts[hold_id],
            {**details, "reason": why},
            args,
        )
    )


def _pick_with_reason(
    form: str,
    caption: str,
    choice: tuple[str, str, dict[int, int], str],
    reason: tuple[str, str],
) -> tuple[int, str] | None:
    """A form that picks one grant or hold (label, widget key, id → credits, unit) and asks why
    (widget key, submit label); the pick and the checked reason once submitted, else None (a bad
    reason is said here)."""
    label, choice_key, amounts, unit = choice
    reason_key, submit = reason
    with st.form(form):
        st.caption(caption)
        picked = st.selectbox(
            label,
            list(amounts),
            format_func=lambda i: f"#{i}: {format_credits(amounts[i])} {unit}",
            key=choice_key,
        )
        why = st.text_input("Reason (for the audit trail)", key=reason_key)
        if not st.form_submit_button(submit):
            return None
    try:
        return int(picked), logic.reason(why)
    except LedgerError as error:
        st.error(sentence(error))
        return None
