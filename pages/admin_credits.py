"""Credit admin (workspace admins and operators): the accounts they manage and, for the one
opened, its journal, credits in and out, holds, members, threshold, usage and audit trail; above
them, a flag for workspaces that owe credits after a refund.

Layout only: the forms and tables live in ``workbench/admin/``; the ledger checks every action
again and its refusals are shown as one sentence."""

from __future__ import annotations

import streamlit as st

from workbench.admin import confirmations, member_forms, money_forms, owed, records
from workbench.ui.chrome import page_header
from workbench.ui.page_registry import spec
from workbench.ui.session import require_admin, services

svc = services()
who = st.session_state["who"]
require_admin(who)  # checked here, on the server, whatever the menu shows
page_header(spec("admin_credits"))
owed.flag_section(svc, who)  # workspaces that owe credits after a refund or a lost dispute

account = records.open_account(svc, who)
if account is None:
    st.stop()

journal, credits, holds, members, usage, audit, checks = st.tabs(
    ["Journal", "Credits", "Holds", "Members", "Recent usage", "Audit", "Settings & checks"]
)
with journal:
    records.journal_section(svc, who, account)
with credits:
    if who.is_operator:
        top_up, take_back = st.columns(2)
        with top_up:
            st.subheader("Top up")
            money_forms.top_up_form(account)
        with take_back:
            st.subheader("Take back")
            money_forms.take_back_form(account)
    else:
        st.caption("Operators (the platform and finance team) add and take back credits.")
    st.subheader("Grants")
    money_forms.grants_section(svc, who, account)
with holds:
    st.subheader("Holds in flight")
    money_forms.holds_section(svc, who, account)
with members:
    st.subheader("Members")
    member_forms.members_section(svc, who, account)
with usage:
    st.subheader("Recent usage")
    records.usage_section(svc, account)
with audit:
    st.subheader("Audit trail")
    records.audit_section(svc, who, account)
with checks:
    st.subheader("Low-balance warning")
    member_forms.threshold_form(svc, who, account)
    st.subheader("Verify the ledger")
    records.verify_section(svc, who)

confirmations.show_if_pending(svc, who)
