"""Credit admin: the workspace's account, holds in flight and recent usage (admins only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ledger.amounts import format_credits
from workbench.ui.chrome import page_header
from workbench.ui.page_registry import spec
from workbench.ui.session import require_admin, services

svc = services()
who = st.session_state["who"]
require_admin(who)  # checked here, on the server, whatever the menu shows
page_header(spec("admin_credits"))

balance = svc.ledger.balance(who.workspace.account_id)
total, available, held = st.columns(3)
total.metric("Balance", format_credits(balance.balance))
available.metric("Available", format_credits(balance.available))
held.metric("Held", format_credits(balance.held))

st.subheader("Recent usage")
rows = svc.ledger.recent_usage(workspace_id=who.workspace.id, limit=200)
names = {user.id: user.username for user, _ in svc.ledger.members_of(who.workspace.id)}
if rows:
    st.dataframe(
        pd.DataFrame(
            {
                "when (UTC)": [
                    r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else "" for r in rows
                ],
                # A former member's calls still show, by id.
                "user": [names.get(r.user_id, f"user #{r.user_id}") for r in rows],
                "model": [r.model for r in rows],
                "status": [r.status for r in rows],
                "credits": [format_credits(r.credits) for r in rows],
                "tokens in/out": [f"{r.input_tokens}/{r.output_tokens}" for r in rows],
                "images": [r.images for r in rows],
                "latency ms": [r.latency_ms for r in rows],
                "error": [r.error_type or "" for r in rows],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"credits": st.column_config.TextColumn(alignment="right")},
    )
else:
    st.caption("No calls yet.")
