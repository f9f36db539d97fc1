"""My credits: the way back from Stripe Checkout, the balance (and what is owed), my cap, the
ledger's lines, the packs and plans on offer, and the workspace's auto top-up."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ledger.amounts import credits_text, format_credits
from ledger.schema import ENTRY_KINDS
from workbench.ui import auto_top_up_form, checkout_return, purchases
from workbench.ui.chrome import page_header
from workbench.ui.page_registry import spec
from workbench.ui.session import services

PAGE_SIZE = 25

svc = services()
who = st.session_state["who"]
account_id = who.workspace.account_id
page_header(spec("credits"))
checkout_return.show(svc, who)  # first: a payment it credits shows in the figures below

balance = svc.ledger.balance(account_id)
if balance.debt:
    st.warning(
        f"You owe {credits_text(balance.debt)} after a refund; new credits repay it first.",
        icon=":material/money_off:",
    )
spent = svc.ledger.month_spend(account_id, who.user.id)
cap = who.membership.monthly_cap
available, held, cap_column = st.columns(3)
available.metric("Available", format_credits(balance.available))
held.metric("Held for calls in progress", format_credits(balance.held))
cap_column.metric(
    "My spending this month",
    format_credits(spent) + (f" of {format_credits(cap)}" if cap is not None else ""),
    help="Your monthly cap in this workspace (set by an admin)"
    if cap is not None
    else "No cap set",
)
if cap:  # a cap of 0 means no spending at all: nothing to chart
    used = min(100, (spent * 100 + cap // 2) // cap)  # whole percent, integers only
    st.progress(used, text=f"{used}% of your monthly cap used")

st.subheader("History")
kinds = st.multiselect("Kinds", ENTRY_KINDS, key="history_kinds", placeholder="All kinds")
# Page positions belong to one account and one filter: changing either starts from the newest.
position_key = f"history_pages-{account_id}-{','.join(sorted(kinds))}"
pages: list[int | None] = st.session_state.setdefault(position_key, [None])
fetched = svc.ledger.history(
    account_id, kinds=kinds or None, before_id=pages[-1], limit=PAGE_SIZE + 1
)
lines, more = fetched[:PAGE_SIZE], len(fetched) > PAGE_SIZE
if lines:
    frame = pd.DataFrame(
        {
            "when (UTC)": [line.created_at.strftime("%Y-%m-%d %H:%M:%S") for line in lines],
            "kind": [line.kind for line in lines],
            "credits": [format_credits(line.balance_delta) for line in lines],
            "held": [format_credits(line.held_delta) for line in lines],
            "hold": [line.hold_id for line in lines],
            "reason": [line.reason or "" for line in lines],
        }
    )
    # Credits as people read them ("50,000", "-0.234"), never the ledger's micro-credits.
    amount = st.column_config.TextColumn(alignment="right")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={"credits": amount, "held": amount},
    )
else:
    st.caption("No ledger lines match.")
newer, older = st.columns(2)
if len(pages) > 1 and newer.button("Newer", key="newer"):
    pages.pop()
    st.rerun()
if more and older.button("Older", key="older"):
    pages.append(lines[-1].id)
    st.rerun()

purchases.shop(svc, who)
auto_top_up_form.section(svc, who)
