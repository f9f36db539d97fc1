"""The Usage analytics page's tables and its export of calls: rankings, the user-by-model matrix,
one page of calls as people read them, and every call in view as CSV or Parquet (built only when
someone clicks a download button). Untrusted text (names, error messages) stays in data cells.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Final

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs installed

from ledger.amounts import format_credits
from workbench.analytics import breakdowns
from workbench.analytics.breakdowns import CallRow, MatrixCell, Ranked
from workbench.analytics.dashboard import usd
from workbench.analytics.filters import Filters
from workbench.analytics.scope import Scope

CALLS_PAGE_SIZE: Final = 50
# An export reads the calls page by page and stops here.
MAX_EXPORT_ROWS: Final = 100_000


def ranked_table(rows: list[Ranked], label: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            label: [r.name for r in rows],
            "credits": [format_credits(r.credits) for r in rows],
            "requests": [r.requests for r in rows],
            "share": [f"{r.share:.1%}" for r in rows],
        }
    )


def matrix_table(cells: list[MatrixCell]) -> pd.DataFrame:
    """Credits per user (rows) and model (columns); blank where a user never used a model."""
    if not cells:
        return pd.DataFrame({"user": []})
    models = sorted({c.model for c in cells})
    people = sorted({c.username for c in cells})
    spent = {(c.username, c.model): c.credits for c in cells}
    columns: dict[str, list[str]] = {"user": people}
    for model in models:
        columns[model] = [
            format_credits(spent[(p, model)]) if (p, model) in spent else "" for p in people
        ]
    return pd.DataFrame(columns)


def _when(row: CallRow) -> str:
    return row.created_at.strftime("%Y-%m-%d %H:%M:%S")


def calls_table(rows: list[CallRow]) -> pd.DataFrame:
    """One page of calls as people read them (names and messages are data cells, never markup)."""
    return pd.DataFrame(
        {
            "when": [_when(r) for r in rows],
            "user": [r.username for r in rows],
            "workspace": [r.workspace_slug for r in rows],
            "feature": [r.feature_key for r in rows],
            "model": [r.model for r in rows],
            "status": [r.status for r in rows],
            "credits": [format_credits(r.credits) for r in rows],
            "cost (USD)": ["" if r.usd_cost_nanos is None else usd(r.usd_cost_nanos) for r in rows],
            "tokens in/out/cached": [
                f"{r.input_tokens:,} / {r.output_tokens:,} / {r.cached_tokens:,}" for r in rows
            ],
            "images": [r.images for r in rows],
            "latency (ms)": [r.latency_ms for r in rows],
            "first token (ms)": [r.ttft_ms for r in rows],
            "error": [
                "" if r.error_type is None else f"{r.error_type}: {r.error_message or ''}"
                for r in rows
            ],
        }
    )


def pages_of(total: int, page_size: int = CALLS_PAGE_SIZE) -> int:
    return max(1, -(-total // page_size))


# --- export --------------------------------------------------------------------------------------


def export_frame(path: Path, scope: Scope, filters: Filters) -> pd.DataFrame:
    """Every call in view (up to ``MAX_EXPORT_ROWS``), newest first, machine-readable: times in
    ISO 8601 with their offset, credits and dollars exact."""
    rows: list[CallRow] = []
    page = 1
    while len(rows) < MAX_EXPORT_ROWS:
        got = breakdowns.calls(path, scope, filters, page, breakdowns.MAX_PAGE_SIZE)
        rows += got.rows
        if page * got.page_size >= got.total:
            break
        page += 1
    rows = rows[:MAX_EXPORT_ROWS]
    return pd.DataFrame(
        {
            "id": [r.id for r in rows],
            "created_at": [r.created_at.isoformat() for r in rows],
            "user": [r.username for r in rows],
            "workspace": [r.workspace_slug for r in rows],
            "feature": [r.feature_key for r in rows],
            "model": [r.model for r in rows],
            "provider": [r.provider for r in rows],
            "status": [r.status for r in rows],
            "input_tokens": [r.input_tokens for r in rows],
            "output_tokens": [r.output_tokens for r in rows],
            "cached_tokens": [r.cached_tokens for r in rows],
            "images": [r.images for r in rows],
            "credits_micros": [r.credits for r in rows],
            "usd_cost_nanos": pd.array([r.usd_cost_nanos for r in rows], dtype="Int64"),
            "latency_ms": pd.array([r.latency_ms for r in rows], dtype="Int64"),
            "ttft_ms": pd.array([r.ttft_ms for r in rows], dtype="Int64"),
            "error_type": [r.error_type for r in rows],
            "error_message": [r.error_message for r in rows],
        }
    )


def export_csv(path: Path, scope: Scope, filters: Filters) -> bytes:
    text: str = export_frame(path, scope, filters).to_csv(index=False)
    return text.encode("utf-8")


def export_parquet(path: Path, scope: Scope, filters: Filters) -> bytes:
    buffer = io.BytesIO()
    export_frame(path, scope, filters).to_parquet(buffer, index=False)
    return buffer.getvalue()


def export_name(filters: Filters, suffix: str) -> str:
    first = filters.start.date().isoformat()
    last = (filters.end - timedelta(days=1)).date().isoformat()
    return f"usage-{first}-to-{last}.{suffix}"
