"""Credit admin's member forms (add, create, role, monthly cap, deactivate) and the workspace's
low-balance threshold. Each acts at once; the ledger checks the viewer's level and writes the
audit row. Refusals are one sentence; names people typed are shown only as text."""

from __future__ import annotations

import streamlit as st

from ledger.admin_views import AccountOverview
from ledger.amounts import format_credits
from ledger.errors import LedgerError
from ledger.owners import Membership, User
from ledger.schema import ROLES
from workbench.admin import credit_admin as logic
from workbench.auth.local_logins import BadPassword
from workbench.bootstrap import Services
from workbench.ui.chrome import flash
from workbench.ui.messages import sentence
from workbench.ui.session import SignedIn

CREATED_KEY = "admin_credits_created"


def members_section(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    _show_created()
    members = svc.ledger.members_of(account.workspace_id)
    active = {user.id: svc.ledger.is_active(user.id) for user, _ in members}
    st.dataframe(logic.members_table(members, active), hide_index=True, width="stretch")
    add, create = st.columns(2)
    with add:
        _add_existing(svc, who, account)
    with create:
        _create(svc, who, account)
    if members:
        role, cap, status = st.columns(3)
        with role:
            _role(svc, who, account, members)
        with cap:
            _cap(svc, who, account, members)
        with status:
            _active(svc, who, members, active)


def _add_existing(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    with st.form("admin_add_member"):
        username = st.text_input("Username of an existing user", key="add_member_username")
        role = st.selectbox("Role", ROLES, index=ROLES.index("member"), key="add_member_role")
        if not st.form_submit_button("Add member"):
            return
    try:
        svc.ledger.add_member_by_name(
            account.workspace_id, username.strip(), role, actor_user_id=who.user.id
        )
    except LedgerError as error:
        st.error(sentence(error))
        return
    flash("Member added.")
    st.rerun()


def _create(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    with st.form("admin_create_member"):
        username = st.text_input("New username", key="create_member_username")
        name = st.text_input("Display name (optional)", key="create_member_name")
        email = st.text_input("Email (optional)", key="create_member_email")
        role = st.selectbox("Role", ROLES, index=ROLES.index("member"), key="create_member_role")
        if not st.form_submit_button("Create member"):
            return
    try:
        user = svc.ledger.create_member(
            account.workspace_id,
            username.strip(),
            role,
            actor_user_id=who.user.id,
            display_name=name.strip(),
            email=email.strip() or None,
        )
    except LedgerError as error:
        st.error(sentence(error))
        return
    password = logic.new_password() if svc.config.auth_mode == "local" else None
    if password is not None:
        try:
            svc.logins.set_password(user.id, password)
        except BadPassword:  # cannot happen with a generated password; said plainly if it does
            password = None
    st.session_state[CREATED_KEY] = (user.username, password)
    flash("Member created.")
    st.rerun()


def _show_created() -> None:
    """The member just created and their password, once (the next run forgets it)."""
    created = st.session_state.pop(CREATED_KEY, None)
    if created is None:
        return
    username, password = created
    st.caption("Created (username):")
    st.code(username, language=None)
    if password is None:
        st.caption("Give them a password with `workbench auth set-password` to sign in locally.")
    else:
        st.caption("Their password, shown once: pass it on privately.")
        st.code(password, language=None)


def _pick(members: list[tuple[User, Membership]], key: str) -> int:
    names = {user.id: user.username for user, _ in members}
    chosen: int = st.selectbox("Member", list(names), format_func=names.__getitem__, key=key)
    return chosen


def _role(
    svc: Services, who: SignedIn, account: AccountOverview, members: list[tuple[User, Membership]]
) -> None:
    with st.form("admin_member_role"):
        user_id = _pick(members, "role_member")
        role = st.selectbox("New role", ROLES, key="role_value")
        if not st.form_submit_button("Change role"):
            return
    try:
        svc.ledger.set_role(account.workspace_id, user_id, role, actor_user_id=who.user.id)
    except LedgerError as error:
        st.error(sentence(error))
        return
    flash("Role changed.")
    st.rerun()


def _cap(
    svc: Services, who: SignedIn, account: AccountOverview, members: list[tuple[User, Membership]]
) -> None:
    with st.form("admin_member_cap"):
        user_id = _pick(members, "cap_member")
        typed = st.text_input("Monthly cap (credits; blank: no cap)", key="cap_value")
        if not st.form_submit_button("Set cap"):
            return
    try:
        cap = logic.optional_amount(typed, "monthly cap")
        svc.ledger.set_member_cap(account.workspace_id, user_id, cap, actor_user_id=who.user.id)
    except LedgerError as error:
        st.error(sentence(error))
        return
    flash("Cap cleared." if cap is None else f"Cap set to {format_credits(cap)} credits a month.")
    st.rerun()


def _active(
    svc: Services, who: SignedIn, members: list[tuple[User, Membership]], active: dict[int, bool]
) -> None:
    with st.form("admin_member_active"):
        user_id = _pick(members, "active_member")
        why = st.text_input("Reason (for the audit trail)", key="active_reason")
        off = st.form_submit_button("Deactivate")
        on = st.form_submit_button("Reactivate")
        if not (off or on):
            return
    try:
        # Through the sessions: a deactivation also ends every sign-in session they have.
        svc.web_sessions.set_user_active(
            svc.ledger, user_id, on, actor_user_id=who.user.id, reason=why
        )
    except LedgerError as error:
        st.error(sentence(error))
        return
    flash("User reactivated." if on else "User deactivated: they can no longer sign in or spend.")
    st.rerun()


def threshold_form(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    current = account.low_balance_threshold
    shown = "none" if current is None else f"{format_credits(current)} credits"
    st.caption(
        f"Every page of the workspace warns below this many available credits (now {shown})."
    )
    with st.form("admin_threshold"):
        typed = st.text_input("Low-balance threshold (credits; blank: never warn)", key="threshold")
        if not st.form_submit_button("Save threshold"):
            return
    try:
        threshold = logic.optional_amount(typed, "low-balance threshold")
        svc.ledger.set_low_balance_threshold(
            account.workspace_id, threshold, actor_user_id=who.user.id
        )
    except LedgerError as error:
        st.error(sentence(error))
        return
    flash("Threshold cleared." if threshold is None else "Threshold saved.")
    st.rerun()
