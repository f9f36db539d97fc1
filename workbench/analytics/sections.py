"""The Usage analytics page's sections, one tab each, below the tiles: Credits (per period,
stacked, and the burn rate), Requests and latency, Top models (and users), Health (admins and
operators) and Calls (drill-down, the calls pager and the export).

Only the open tab runs: its queries, charts and tables are built and sent, the others' are not
(``st.tabs(..., on_change="rerun")``). A page switch to Usage analytics then draws two charts
instead of four charts and four tables, and switching tabs is one rerun of the page. The open
tab is kept by key (``SECTION``), so filters and drill-downs keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import streamlit as st

from workbench.analytics import breakdowns, burn, charts, drill, queries, tables, widgets
from workbench.analytics import dashboard as ud
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.filters import Filters
from workbench.analytics.health import health
from workbench.analytics.health_widgets import health_section
from workbench.analytics.scope import Level, Scope
from workbench.ui.messages import sentence

if TYPE_CHECKING:
    from ledger.service import Ledger

SECTION: Final = "usage_section"
STACK: Final = "usage_by"


@dataclass(frozen=True)
class Viewing:
    """What every section reads: the mirror, the viewer's scope and filters, and (for the burn
    rate and health, which read the ledger itself) the ledger and the workspace's account."""

    path: Path
    scope: Scope
    filters: Filters
    ledger: Ledger
    account_id: int


def show(viewing: Viewing) -> None:
    """The tabs, running only the open one. A section that fails says why in one sentence."""
    names = ud.section_names(viewing.scope)
    for name, tab in zip(names, st.tabs(names, key=SECTION, on_change="rerun"), strict=True):
        if tab.open:
            with tab:
                try:
                    _SHOWN[name](viewing)
                except AnalyticsError as error:
                    st.error(sentence(error))


def _credits(v: Viewing) -> None:
    st.subheader("Credits per period")
    # A click on the chosen stack unchooses it: model again.
    by = (
        st.segmented_control(
            "Stack by",
            ud.stack_options(v.scope),
            default="model",
            key=STACK,
            format_func=str.capitalize,
        )
        or "model"
    )
    grain = v.filters.grain
    series = ud.credits_series(v.path, v.scope, v.filters, by)
    st.altair_chart(charts.credits_chart(series, grain, by), width="stretch")
    st.subheader("Burn rate")
    now = datetime.now(UTC)
    pace = burn.forecast(v.path, v.scope, v.ledger, v.account_id, now)
    st.altair_chart(charts.burn_chart(series, grain, pace.per_day), width="stretch")
    st.caption(burn.forecast_text(pace, now))


def _traffic(v: Viewing) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Requests and errors")
        requests = queries.requests_series(v.path, v.scope, v.filters)
        st.altair_chart(charts.requests_chart(requests, v.filters.grain), width="stretch")
    with right:
        st.subheader("Latency")
        latency = breakdowns.latency_histogram(v.path, v.scope, v.filters)
        st.altair_chart(charts.latency_chart(latency), width="stretch")


def _sees_people(scope: Scope) -> bool:
    return scope.level is not Level.MEMBER


def _rankings(v: Viewing) -> None:
    st.subheader("Top models")
    top_models = breakdowns.top_models(v.path, v.scope, v.filters)
    st.dataframe(tables.ranked_table(top_models, "model"), hide_index=True, width="stretch")
    if _sees_people(v.scope):
        st.subheader("Top users")
        top_users = breakdowns.top_users(v.path, v.scope, v.filters)
        st.dataframe(tables.ranked_table(top_users, "user"), hide_index=True, width="stretch")
        st.subheader("Credits by user and model")
        matrix = breakdowns.user_model_matrix(v.path, v.scope, v.filters)
        st.dataframe(tables.matrix_table(matrix), hide_index=True, width="stretch")


def _health(v: Viewing) -> None:
    checks = health(v.ledger, v.scope, v.filters, datetime.now(UTC))
    if checks is not None:  # the tab is offered to workspace admins and operators only
        st.subheader("Health")
        health_section(checks)


def _calls(v: Viewing) -> None:
    st.subheader("Calls")
    periods = queries.requests_series(v.path, v.scope, v.filters)
    top_models = breakdowns.top_models(v.path, v.scope, v.filters)
    top_users = breakdowns.top_users(v.path, v.scope, v.filters) if _sees_people(v.scope) else []
    drill.controls(periods, v.filters.grain, top_users, top_models)
    widgets.calls_pager(v.path, v.scope, v.filters)
    widgets.export_buttons(v.path, v.scope, v.filters)


_SHOWN: Final[dict[str, Callable[[Viewing], None]]] = {
    ud.CREDITS: _credits,
    ud.TRAFFIC: _traffic,
    ud.RANKINGS: _rankings,
    ud.RANKINGS_OWN: _rankings,
    ud.HEALTH: _health,
    ud.CALLS: _calls,
}
