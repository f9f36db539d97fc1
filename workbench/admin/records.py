"""Credit admin's read-only sections: the accounts table (and which workspace is open), the
journal (filters, pages, CSV), recent usage, the audit trail and the ledger check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from ledger.admin_views import AccountOverview
from ledger.amounts import format_credits
from ledger.errors import LedgerError
from ledger.journal import JournalLine
from ledger.schema import ENTRY_KINDS
from workbench.admin import credit_admin as logic
from workbench.bootstrap import Services
from workbench.ui.messages import sentence
from workbench.ui.session import SignedIn

JOURNAL_KEY = "admin_credits_journal"  # (filters, [before_id of each older page])
AUDIT_KEY = "admin_credits_audit"  # (filters, offset)
JOURNAL_PAGE = 50
AUDIT_PAGE = 100
CSV_MAX_LINES = 100_000
ALL_ACTIONS = "every action"


def open_account(svc: Services, who: SignedIn) -> AccountOverview | None:
    """The accounts the viewer manages (searchable, sortable) and the one they open."""
    accounts = svc.ledger.account_overviews(actor_user_id=who.user.id)
    if not accounts:
        st.caption("You manage no workspace.")
        return None
    search, order = st.columns(2)
    needle = search.text_input("Search workspaces", key="accounts_search")
    sort = order.selectbox("Sort by", list(logic.SORTS), key="accounts_sort")
    st.dataframe(logic.accounts_table(accounts, needle, sort), hide_index=True, width="stretch")
    by_id = {a.workspace_id: a for a in accounts}
    ids = list(by_id)
    chosen: int = st.selectbox(
        "Open workspace",
        ids,
        index=ids.index(who.workspace.id) if who.workspace.id in by_id else 0,
        format_func=lambda w: f"{by_id[w].slug} ({by_id[w].name})",
        key="accounts_open",
    )
    account = by_id[chosen]
    total, available, held = st.columns(3)
    total.metric("Balance", format_credits(account.balance))
    available.metric("Available", format_credits(account.available))
    held.metric("Held", format_credits(account.held))
    return account


def journal_section(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    kinds = st.multiselect("Kinds", ENTRY_KINDS, key="journal_kinds")
    start_day, end_day = st.columns(2)
    since = start_day.date_input("From (UTC)", None, key="journal_since")
    until = end_day.date_input("Until (UTC)", None, key="journal_until")
    try:
        start, end = logic.day_bounds(since, until)
    except LedgerError as error:
        st.error(sentence(error))
        return
    filters: dict[str, Any] = {"kinds": list(kinds) or None, "since": start, "until": end}
    signature = (account.workspace_id, tuple(kinds), start, end)
    state = st.session_state.get(JOURNAL_KEY)
    if not state or state[0] != signature:  # new filters: back to the newest page
        state = (signature, [])
        st.session_state[JOURNAL_KEY] = state
    pages: list[int] = state[1]

    def page(before_id: int | None, limit: int) -> list[JournalLine]:
        return svc.ledger.journal_page(
            account.workspace_id,
            actor_user_id=who.user.id,
            before_id=before_id,
            limit=limit,
            **filters,
        )

    lines = page(pages[-1] if pages else None, JOURNAL_PAGE)
    names = {user.id: user.username for user, _ in svc.ledger.members_of(account.workspace_id)}
    if lines:
        st.dataframe(logic.journal_table(lines, names), hide_index=True, width="stretch")
    else:
        st.caption("No journal lines match.")
    newest, older, download = st.columns(3)
    if pages and newest.button("Newest", key="journal_newest"):
        pages.clear()
        st.rerun()
    if len(lines) == JOURNAL_PAGE and older.button("Older", key="journal_older"):
        pages.append(lines[-1].id)
        st.rerun()
    download.download_button(
        "Download CSV",
        data=lambda: logic.journal_csv(every_line(page), names),
        file_name=f"journal-{account.slug}.csv",
        mime="text/csv",
        key="journal_csv",
    )


def every_line(page: Any) -> list[JournalLine]:
    """Every line the filters match (built only when the CSV is asked for)."""
    found: list[JournalLine] = []
    before: int | None = None
    while len(found) < CSV_MAX_LINES:
        batch: Sequence[JournalLine] = page(before, 1000)
        found.extend(batch)
        if len(batch) < 1000:
            break
        before = batch[-1].id
    return found


def usage_section(svc: Services, account: AccountOverview) -> None:
    rows = svc.ledger.recent_usage(workspace_id=account.workspace_id, limit=200)
    if not rows:
        st.caption("No calls yet.")
        return
    names = {user.id: user.username for user, _ in svc.ledger.members_of(account.workspace_id)}
    st.dataframe(
        logic.usage_table(rows, names),
        hide_index=True,
        width="stretch",
        column_config={"credits": st.column_config.TextColumn(alignment="right")},
    )


def audit_section(svc: Services, who: SignedIn, account: AccountOverview) -> None:
    scope, kind = st.columns(2)
    everywhere = who.is_operator and scope.toggle("Every workspace", key="audit_everywhere")
    action = kind.selectbox("Action", (ALL_ACTIONS, *logic.AUDIT_ACTIONS), key="audit_action")
    signature = (None if everywhere else account.workspace_id, action)
    state = st.session_state.get(AUDIT_KEY)
    if not state or state[0] != signature:
        state = (signature, 0)
        st.session_state[AUDIT_KEY] = state
    offset: int = state[1]
    try:
        events = svc.ledger.audit_trail(
            actor_user_id=who.user.id,
            workspace_id=signature[0],
            action=None if action == ALL_ACTIONS else action,
            limit=AUDIT_PAGE,
            offset=offset,
        )
    except LedgerError as error:
        st.error(sentence(error))
        return
    if events:
        st.dataframe(logic.audit_table(events), hide_index=True, width="stretch")
    else:
        st.caption("No audit events match.")
    newer, older = st.columns(2)
    if offset and newer.button("Newer events", key="audit_newer"):
        st.session_state[AUDIT_KEY] = (signature, max(0, offset - AUDIT_PAGE))
        st.rerun()
    if len(events) == AUDIT_PAGE and older.button("Older events", key="audit_older"):
        st.session_state[AUDIT_KEY] = (signature, offset + AUDIT_PAGE)
        st.rerun()


def verify_section(svc: Services, who: SignedIn) -> None:
    st.caption("Check every balance, hold and grant against the journal.")
    if not st.button("Verify ledger", key="verify_ledger"):
        return
    try:
        findings = svc.ledger.verify_for(actor_user_id=who.user.id)
    except LedgerError as error:
        st.error(sentence(error))
        return
    if not findings:
        checked = logic.when(datetime.now(UTC))
        st.success(f"The ledger is consistent: everything adds up (checked {checked} UTC).")
        return
    st.error(f"{len(findings)} finding(s): the ledger does not add up.")
    for finding in findings:
        st.code(str(finding), language=None)
