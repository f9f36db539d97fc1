"""The Usage analytics page's charts (Altair): credits per period stacked by one dimension,
requests and errors per period, and the latency distribution.

Periods are labelled in the display time zone as text ("2026-03-10", "2026-03-10 14:00"), so the
browser's own zone never shifts a bucket.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import altair as alt
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs installed

from ledger.amounts import MICROS_PER_CREDIT
from workbench.analytics.breakdowns import HistogramBin
from workbench.analytics.queries import CreditsPoint, RequestsPoint

_PERIOD_FORMATS: Final = {
    "hour": "%Y-%m-%d %H:00",
    "day": "%Y-%m-%d",
    "week": "week of %Y-%m-%d",
    "month": "%Y-%m",
}
_BY_TITLES: Final = {
    "model": "Model",
    "feature": "Feature",
    "user": "User",
    "workspace": "Workspace",
}


def _period(moment: datetime, grain: str) -> str:
    """The bucket's start as text, in its own (the display) time zone."""
    return moment.strftime(_PERIOD_FORMATS[grain])


def credits_chart(points: list[CreditsPoint], grain: str, by: str) -> alt.Chart:
    """Credits per period as bars stacked by ``by`` (model, feature, user or workspace)."""
    frame = pd.DataFrame(
        {
            "period": [_period(p.bucket, grain) for p in points],
            "key": [p.key for p in points],
            "credits": [p.credits / MICROS_PER_CREDIT for p in points],
            "requests": [p.requests for p in points],
        }
    )
    title = _BY_TITLES.get(by, by)
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("period:O", title=None, sort="ascending"),
            y=alt.Y("sum(credits):Q", title="Credits", stack="zero"),
            color=alt.Color("key:N", title=title),
            tooltip=[
                alt.Tooltip("period:O", title="Period"),
                alt.Tooltip("key:N", title=title),
                alt.Tooltip("credits:Q", title="Credits", format=",.6~f"),
                alt.Tooltip("requests:Q", title="Requests", format=","),
            ],
        )
    )
    return chart


def requests_chart(points: list[RequestsPoint], grain: str) -> alt.LayerChart:
    """Requests per period as bars, errors and timeouts among them as a line."""
    frame = pd.DataFrame(
        {
            "period": [_period(p.bucket, grain) for p in points],
            "requests": [p.requests for p in points],
            "errors": [p.errors for p in points],
        }
    )
    base = alt.Chart(frame).encode(x=alt.X("period:O", title=None, sort="ascending"))
    tooltip = [
        alt.Tooltip("period:O", title="Period"),
        alt.Tooltip("requests:Q", title="Requests", format=","),
        alt.Tooltip("errors:Q", title="Errors and timeouts", format=","),
    ]
    bars = base.mark_bar(opacity=0.7).encode(
        y=alt.Y("requests:Q", title="Requests"), tooltip=tooltip
    )
    errors = base.mark_line(point=True, color="#d62728").encode(y="errors:Q", tooltip=tooltip)
    return alt.LayerChart(layer=[bars, errors])


def _bin_label(b: HistogramBin) -> str:
    def ms(value: int) -> str:
        return f"{value // 1000} s" if value >= 1000 and value % 1000 == 0 else f"{value} ms"

    return f"≥ {ms(b.low_ms)}" if b.high_ms is None else f"{ms(b.low_ms)}–{ms(b.high_ms)}"


def latency_chart(bins: list[HistogramBin]) -> alt.Chart:
    labels = [_bin_label(b) for b in bins]
    frame = pd.DataFrame({"latency": labels, "calls": [b.count for b in bins]})
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("latency:O", title="Latency", sort=labels),
            y=alt.Y("calls:Q", title="Calls"),
            tooltip=["latency:O", alt.Tooltip("calls:Q", format=",")],
        )
    )
    return chart


def burn_chart(points: list[CreditsPoint], grain: str, per_day: int) -> alt.LayerChart:
    """The viewer's credits per period as a line, with the workspace's current daily rate (the
    last 7 days) as a rule for comparison at the day grain."""
    totals: dict[str, float] = {}
    for p in points:
        label = _period(p.bucket, grain)
        totals[label] = totals.get(label, 0.0) + p.credits / MICROS_PER_CREDIT
    frame = pd.DataFrame({"period": list(totals), "credits": list(totals.values())})
    line = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("period:O", title=None, sort="ascending"),
            y=alt.Y("credits:Q", title="Credits"),
            tooltip=[
                alt.Tooltip("period:O", title="Period"),
                alt.Tooltip("credits:Q", title="Credits", format=",.6~f"),
            ],
        )
    )
    rate = pd.DataFrame({"rate": [per_day / MICROS_PER_CREDIT if grain == "day" else None]})
    rule = alt.Chart(rate).mark_rule(strokeDash=[4, 4]).encode(y="rate:Q")
    layered: alt.LayerChart = line + rule
    return layered
