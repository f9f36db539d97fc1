"""The Usage analytics page's widgets: the filter panel (quick picks that set both days), rows of
tiles, the calls pager and the export buttons. Streamlit only; the logic is in ``dashboard`` and
``tables``. Every widget key starts with ``usage_``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from workbench.analytics import dashboard as ud
from workbench.analytics import tables
from workbench.analytics.breakdowns import calls
from workbench.analytics.filters import Filters
from workbench.analytics.scope import Scope

FIRST, LAST, PICK, TZ, GRAIN = "usage_first", "usage_last", "usage_pick", "usage_tz", "usage_grain"
_BOUNDS: dict[str, Any] = {"min_value": date(2000, 1, 1), "max_value": date(2100, 12, 31)}


def _pick_range() -> None:
    """A quick pick sets both days (today in the display time zone)."""
    pick = st.session_state.get(PICK)
    if pick:
        first, last = ud.quick_range(pick, ud.today_in(st.session_state[TZ]))
        st.session_state[FIRST], st.session_state[LAST] = first, last


def _typed_range() -> None:
    st.session_state[PICK] = None


def filter_panel(offered: ud.Choices) -> Filters:
    """The filters as picked (an ``AnalyticsError`` sentence when they make no sense). The user
    filter is offered only to those who may see other people (``offered.users``)."""
    state = st.session_state
    if FIRST not in state:
        state[TZ], state[PICK] = "UTC", "7 days"
        _pick_range()
    with st.container(border=True):
        widths = [3, 1.2, 1.2, 1, 1.4]
        quick, first, last, grain, tz = st.columns(widths, vertical_alignment="bottom")
        quick.segmented_control("Range", ud.QUICK_PICKS, key=PICK, on_change=_pick_range)
        first.date_input("First day", key=FIRST, on_change=_typed_range, **_BOUNDS)
        last.date_input("Last day", key=LAST, on_change=_typed_range, **_BOUNDS)
        grain.selectbox("Group by", ud.GRAINS, index=1, key=GRAIN)
        tz.selectbox("Time zone", ud.ZONES, key=TZ, on_change=_pick_range)
        places, people, features, models, providers, statuses = st.columns(6)
        picked: dict[str, Any] = {
            "workspaces": places.multiselect(
                "Workspace",
                list(offered.workspaces),
                format_func=offered.workspaces.__getitem__,
                key="usage_workspaces",
                placeholder="All",
            ),
            "users": [],
        }
        if offered.sees_people:
            picked["users"] = people.multiselect(
                "User",
                list(offered.users),
                format_func=offered.users.__getitem__,
                key="usage_users",
                placeholder="All",
            )
        else:
            people.caption("Only your own calls; of your workspace, totals only.")
        for name, column, label, options in (
            ("features", features, "Feature", offered.features),
            ("models", models, "Model", offered.models),
            ("providers", providers, "Provider", offered.providers),
            ("statuses", statuses, "Status", offered.statuses),
        ):
            picked[name] = column.multiselect(
                label, options, key=f"usage_{name}", placeholder="All"
            )
    return ud.build_filters(state[FIRST], state[LAST], state[GRAIN], state[TZ], **picked)


def tile_rows(shown: list[ud.Tile], per_row: int = 4) -> None:
    for start in range(0, len(shown), per_row):
        row = shown[start : start + per_row]
        for column, tile in zip(st.columns(per_row), row, strict=False):
            column.metric(
                tile.label,
                tile.value,
                tile.delta,
                delta_color=tile.delta_color,  # type: ignore[arg-type]
                help=tile.help,
            )


def calls_pager(path: Path, scope: Scope, filters: Filters) -> None:
    """One page of the calls in view, newest first, with Newer and Older. The position belongs
    to these filters: changing any of them starts from the newest again."""
    positions: dict[str, int] = st.session_state.setdefault("usage_calls_pages", {})
    key = repr(filters)
    page = positions.get(key, 1)
    found = calls(path, scope, filters, page, tables.CALLS_PAGE_SIZE)
    if found.rows:
        st.dataframe(tables.calls_table(found.rows), hide_index=True, width="stretch")
    else:
        st.caption("No calls match.")
    last_page = tables.pages_of(found.total)
    newer, where, older = st.columns([1, 3, 1], vertical_alignment="center")
    where.caption(f"Page {page} of {last_page} · {found.total:,} calls, newest first")
    if page > 1 and newer.button("Newer", key="usage_newer"):
        positions[key] = page - 1
        st.rerun()
    if page < last_page and older.button("Older", key="usage_older"):
        positions[key] = page + 1
        st.rerun()


def export_buttons(path: Path, scope: Scope, filters: Filters) -> None:
    """CSV and Parquet of every call in view, built only when a button is clicked."""
    csv_file, parquet_file = st.columns(2)
    csv_file.download_button(
        "Download calls (CSV)",
        lambda: tables.export_csv(path, scope, filters),
        file_name=tables.export_name(filters, "csv"),
        mime="text/csv",
        on_click="ignore",
    )
    parquet_file.download_button(
        "Download calls (Parquet)",
        lambda: tables.export_parquet(path, scope, filters),
        file_name=tables.export_name(filters, "parquet"),
        mime="application/vnd.apache.parquet",
        on_click="ignore",
    )
