"""Usage analytics: tiles, charts and tables over the usage the viewer may see (a member: their
own calls and their workspace's totals). Logic: workbench/analytics/ (dashboard, charts, tables,
widgets)."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from workbench.analytics import burn, charts, drill, tables, widgets
from workbench.analytics import dashboard as ud
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.health import health
from workbench.analytics.health_widgets import health_section
from workbench.analytics.scope import scope_for
from workbench.ui.chrome import page_header
from workbench.ui.messages import escape_markdown, sentence
from workbench.ui.page_registry import spec
from workbench.ui.session import services

svc = services()
who = st.session_state["who"]
page_header(spec("usage"))
path = ud.mirror_path(svc.config)
try:
    stale = ud.refresh(svc.ledger.engine, path)
    scope = scope_for(svc.ledger, who.user.id, who.workspace.id)
    offered = ud.choices(path, scope)
except AnalyticsError as error:
    st.error(sentence(error))
    st.stop()
if stale:
    st.warning(sentence(AnalyticsError(stale)))

# The stacking widget sits by its chart, below; its value (kept by key) is read here first.
by = st.session_state.get("usage_by") or "model"
try:
    filters = widgets.filter_panel(offered)
    view = ud.load(path, scope, filters, by)
except AnalyticsError as error:
    st.error(sentence(error))
    st.stop()

widgets.tile_rows(ud.tiles(view))
st.caption(f"Changes compare with the {(filters.end - filters.start).days} days before.")
st.subheader(f"Whole workspace: {escape_markdown(who.workspace.name)}")
widgets.tile_rows(ud.totals_tiles(view.totals), per_row=3)

st.subheader("Credits per period")
st.segmented_control(
    "Stack by",
    ud.stack_options(scope),
    default="model",
    key="usage_by",
    format_func=str.capitalize,
)
st.altair_chart(charts.credits_chart(view.credits, filters.grain, by), width="stretch")

st.subheader("Burn rate")
now = datetime.now(UTC)
pace = burn.forecast(path, scope, svc.ledger, who.workspace.account_id, now)
st.altair_chart(charts.burn_chart(view.credits, filters.grain, pace.per_day), width="stretch")
st.caption(burn.forecast_text(pace, now))
left, right = st.columns(2)
with left:
    st.subheader("Requests and errors")
    st.altair_chart(charts.requests_chart(view.requests, filters.grain), width="stretch")
with right:
    st.subheader("Latency")
    st.altair_chart(charts.latency_chart(view.latency), width="stretch")

st.subheader("Top models")
st.dataframe(tables.ranked_table(view.top_models, "model"), hide_index=True, width="stretch")
if offered.sees_people:
    st.subheader("Top users")
    st.dataframe(tables.ranked_table(view.top_users, "user"), hide_index=True, width="stretch")
    st.subheader("Credits by user and model")
    st.dataframe(tables.matrix_table(view.matrix), hide_index=True, width="stretch")

checks = health(svc.ledger, scope, filters, now)
if checks is not None:  # workspace admins and operators
    st.subheader("Health")
    health_section(checks)

st.subheader("Calls")
drill.controls(view.requests, filters.grain, view.top_users, view.top_models)
try:
    widgets.calls_pager(path, scope, filters)
except AnalyticsError as error:
    st.error(sentence(error))
else:
    widgets.export_buttons(path, scope, filters)
