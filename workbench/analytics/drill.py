"""Drill-down on Usage analytics: from a period, a user or a model to its calls. Each pick narrows
the page's own filters (so tiles, charts and the calls table all follow, and the pick can be
undone like any filter): a period sets the first and last day to that period and the grouping one
step finer; a user or a model sets that filter to it alone."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Final

import streamlit as st

from workbench.analytics.breakdowns import Ranked
from workbench.analytics.queries import RequestsPoint
from workbench.analytics.widgets import FIRST, GRAIN, LAST, PICK

FINER: Final = {"month": "day", "week": "day", "day": "hour"}
PERIOD, USER, MODEL = "usage_drill_period", "usage_drill_user", "usage_drill_model"


def last_day(first: date, grain: str) -> date:
    """The last day of the period of ``grain`` starting on ``first``."""
    if grain == "week":
        return first + timedelta(days=6)
    if grain == "month":
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first


def _to_period() -> None:
    state = st.session_state
    first = state.get(PERIOD)
    if first is None:
        return
    grain = state[GRAIN]
    state[FIRST], state[LAST], state[PICK] = first, last_day(first, grain), None
    state[GRAIN] = FINER.get(grain, grain)
    state[PERIOD] = None


def _to(filter_key: str, drill_key: str) -> None:
    picked = st.session_state.get(drill_key)
    if picked is not None:
        st.session_state[filter_key] = [picked]
        st.session_state[drill_key] = None


def controls(
    periods: list[RequestsPoint], grain: str, top_users: list[Ranked], top_models: list[Ranked]
) -> None:
    """The three drill-down pickers (the user one only for those who may see people)."""
    period, user, model = st.columns(3)
    if grain != "hour" and periods:
        starts = [p.bucket.date() for p in periods]
        period.selectbox(
            "Drill into a period",
            [None, *starts],
            format_func=lambda d: "—" if d is None else f"{grain} of {d:%Y-%m-%d}",
            key=PERIOD,
            on_change=_to_period,
        )
    if top_users:
        names = {u.id: u.name for u in top_users if u.id is not None}
        user.selectbox(
            "Drill into a user",
            [None, *names],
            format_func=lambda i: "—" if i is None else names[i],
            key=USER,
            on_change=_to,
            args=("usage_users", USER),
        )
    if top_models:
        model.selectbox(
            "Drill into a model",
            [None, *(m.name for m in top_models)],
            format_func=lambda m: "—" if m is None else m,
            key=MODEL,
            on_change=_to,
            args=("usage_models", MODEL),
        )
