"""Money actions confirmed in a dialog, each done at most once.

Reviewing a form keeps a :class:`Pending` action in ``session_state`` with one idempotency key,
made when the dialog opens. Confirm sends that key, so a double click or a rerun does the action
once (the ledger replays the first outcome); a new key is made only after a success (or Cancel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import streamlit as st

from ledger.amounts import format_credits
from ledger.errors import LedgerError
from workbench.admin.credit_admin import new_key
from workbench.bootstrap import Services
from workbench.ui.chrome import flash
from workbench.ui.messages import sentence
from workbench.ui.session import SignedIn

PENDING_KEY = "admin_credits_pending"
DONE = {
    "top_up": "Credits added.",
    "take_back": "Credits taken back.",
    "void_grant": "Grant voided.",
    "force_release": "Hold released.",
}


@dataclass(frozen=True)
class Pending:
    """An action waiting for Confirm: what it is, its arguments, and its one key."""

    action: str  # a key of DONE
    title: str
    account_id: int
    balance_change: int  # micro-credits, for the before/after shown
    held_change: int
    details: dict[str, str]  # shown as text in the dialog
    args: dict[str, Any] = field(default_factory=dict)
    key: str = ""


def review(pending: Pending) -> None:
    """Open the dialog for ``pending`` with a new key (replacing any action left unconfirmed)."""
    st.session_state[PENDING_KEY] = Pending(
        pending.action,
        pending.title,
        pending.account_id,
        pending.balance_change,
        pending.held_change,
        pending.details,
        pending.args,
        new_key(pending.action),
    )


def pending() -> Pending | None:
    found = st.session_state.get(PENDING_KEY)
    return found if isinstance(found, Pending) else None


def forget() -> None:
    st.session_state.pop(PENDING_KEY, None)


def show_if_pending(svc: Services, who: SignedIn) -> None:
    """Call on every run, after the forms: keeps the dialog open while an action waits."""
    action = pending()
    if action is not None:
        _dialog(svc, who, action)


@st.dialog("Confirm", on_dismiss=forget)
def _dialog(svc: Services, who: SignedIn, action: Pending) -> None:
    st.subheader(action.title)
    st.dataframe(
        {"what": list(action.details), "value": list(action.details.values())},
        hide_index=True,
        width="stretch",
    )
    now = svc.ledger.balance(action.account_id)
    after_balance = now.balance + action.balance_change
    after_available = now.available + action.balance_change - action.held_change
    before, after = st.columns(2)
    before.metric("Balance now", format_credits(now.balance))
    after.metric("Balance after", format_credits(after_balance))
    before.metric("Available now", format_credits(now.available))
    after.metric("Available after", format_credits(after_available))
    confirm, cancel = st.columns(2)
    if cancel.button("Cancel", key="admin_confirm_cancel"):
        forget()
        st.rerun()
    if confirm.button("Confirm", type="primary", key="admin_confirm_ok"):
        try:
            replayed = _run(svc, who, action)
        except LedgerError as error:
            st.error(sentence(error))  # the key stays: trying again cannot do it twice
            return
        forget()
        flash("Already done: nothing changed." if replayed else DONE[action.action])
        st.rerun()


def _run(svc: Services, who: SignedIn, action: Pending) -> bool:
    """Do the action with its key; True when the ledger replayed an earlier outcome."""
    ledger, me, args, key = svc.ledger, who.user.id, action.args, action.key
    if action.action == "top_up":
        expires_at: datetime | None = args["expires_at"]
        return ledger.top_up(
            args["workspace_id"],
            args["amount"],
            kind=args["kind"],
            actor_user_id=me,
            reason=args["reason"],
            key=key,
            expires_at=expires_at,
            priority=args["priority"],
        ).replayed
    if action.action == "take_back":
        return ledger.take_back(
            args["workspace_id"], args["amount"], actor_user_id=me, reason=args["reason"], key=key
        ).replayed
    if action.action == "void_grant":
        return ledger.void_grant(
            args["grant_id"], actor_user_id=me, reason=args["reason"], key=key
        ).replayed
    if action.action == "force_release":
        return ledger.force_release(
            args["hold_id"], actor_user_id=me, reason=args["reason"], key=key
        ).replayed
    raise ValueError(f"unknown admin action {action.action!r}")
