"""The Usage analytics page's health section (workspace admins and operators): four figures, the
last three of which must read 0, each with its rows a click away. Streamlit only; the figures
come from ``workbench.analytics.health``."""

from __future__ import annotations

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs installed
import streamlit as st

from ledger.amounts import format_credits
from workbench.analytics.health import Health
from workbench.ui.page_registry import PAGES_DIR, spec


def health_section(found: Health) -> None:
    holds, past, unpriced, drift = st.columns(4)
    holds.metric("Open holds", f"{found.open_holds:,}")
    past.metric("Holds past their TTL", f"{len(found.past_ttl):,}", help="The sweeper ends these.")
    unpriced.metric(
        "Calls on unpriced models",
        f"{len(found.unpriced_calls):,}",
        help="Must read 0: the gateway refuses a model without a price before any hold.",
    )
    drift.metric(
        "Drift (credits)",
        format_credits(found.drift_total, exact=True),
        help="Captured in the journal minus charged in usage rows, this period. Must read 0.",
    )
    admin = spec("admin_credits")
    st.page_link(PAGES_DIR / admin.file, label="Holds on Credit admin", icon=admin.icon)
    if found.past_ttl:
        with st.expander(f"Holds past their TTL ({len(found.past_ttl)})"):
            st.dataframe(
                pd.DataFrame(
                    {
                        "hold": [h.id for h in found.past_ttl],
                        "workspace": [h.workspace for h in found.past_ttl],
                        "user": [h.username for h in found.past_ttl],
                        "model": [h.model for h in found.past_ttl],
                        "credits": [format_credits(h.amount) for h in found.past_ttl],
                        "expired at (UTC)": [
                            h.expires_at.strftime("%Y-%m-%d %H:%M") for h in found.past_ttl
                        ],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
    if found.unpriced_calls:
        with st.expander(f"Calls on unpriced models ({len(found.unpriced_calls)})"):
            st.dataframe(
                pd.DataFrame(
                    {
                        "usage row": [c.id for c in found.unpriced_calls],
                        "when (UTC)": [
                            c.created_at.strftime("%Y-%m-%d %H:%M") for c in found.unpriced_calls
                        ],
                        "workspace": [c.workspace for c in found.unpriced_calls],
                        "user": [c.username for c in found.unpriced_calls],
                        "model": [c.model for c in found.unpriced_calls],
                        "status": [c.status for c in found.unpriced_calls],
                        "credits": [format_credits(c.credits) for c in found.unpriced_calls],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
    if found.drift:
        with st.expander(f"Drift by workspace ({len(found.drift)})"):
            st.dataframe(
                pd.DataFrame(
                    {
                        "workspace": [d.workspace for d in found.drift],
                        "journal": [format_credits(d.journal, exact=True) for d in found.drift],
                        "usage rows": [format_credits(d.usage, exact=True) for d in found.drift],
                        "difference": [
                            format_credits(d.difference, exact=True) for d in found.drift
                        ],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
