"""Usage analytics: tiles, then one tab per section (charts, rankings, health, calls) over the
usage the viewer may see (a member: their own calls and their workspace's totals). Only the open
tab runs. Logic: workbench/analytics/ (dashboard, sections, charts, tables, widgets)."""

from __future__ import annotations

import streamlit as st

from workbench.analytics import dashboard as ud
from workbench.analytics import sections, widgets
from workbench.analytics.errors import AnalyticsError
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

try:
    filters = widgets.filter_panel(offered)
    top = ud.headline(path, scope, filters)
except AnalyticsError as error:
    st.error(sentence(error))
    st.stop()

widgets.tile_rows(ud.tiles(top.tiles))
st.caption(f"Changes compare with the {(filters.end - filters.start).days} days before.")
st.subheader(f"Whole workspace: {escape_markdown(who.workspace.name)}")
widgets.tile_rows(ud.totals_tiles(top.totals), per_row=3)

sections.show(sections.Viewing(path, scope, filters, svc.ledger, who.workspace.account_id))
