"""Breakdowns of the usage in view: the latency histogram, top users and models with their share,
the user-by-model matrix, and single calls page by page (the drill-down).

Like ``queries``, every function takes the mirror's path, the viewer's ``Scope`` and the
``Filters`` and adds the scope's condition itself. Money is integer micro-credits.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from workbench.analytics.errors import AnalyticsError
from workbench.analytics.filters import Filters, source_for, where
from workbench.analytics.queries import check_known, labels, open_mirror
from workbench.analytics.scope import Scope

DEFAULT_LATENCY_EDGES: Final = (0, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000)
MAX_PAGE_SIZE: Final = 1000


@dataclass(frozen=True)
class HistogramBin:
    low_ms: int
    high_ms: int | None  # None: no upper bound
    count: int


def latency_histogram(
    mirror_path: Path | str,
    scope: Scope,
    filters: Filters,
    edges: Sequence[int] = DEFAULT_LATENCY_EDGES,
) -> list[HistogramBin]:
    """How many calls took [edge, next edge) milliseconds; the last bin is open-ended. Rows with
    no latency (refusals) are left out."""
    edges = list(edges)
    if (
        not edges
        or not all(isinstance(e, int) and not isinstance(e, bool) for e in edges)
        or any(b <= a for a, b in itertools.pairwise(edges))
        or edges[0] < 0
    ):
        raise AnalyticsError("latency edges must be increasing whole milliseconds from 0 up")
    bounds: list[tuple[int, int | None]] = [
        *itertools.pairwise(edges),
        (edges[-1], None),
    ]
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        condition, params = where(scope, filters)
        counts = ", ".join(
            f"count(*) FILTER (WHERE latency_ms >= {low}"
            + ("" if high is None else f" AND latency_ms < {high}")
            + ")"
            for low, high in bounds
        )
        row = con.execute(f"SELECT {counts} FROM usage WHERE {condition}", params).fetchone()
    return [HistogramBin(low, high, int(n)) for (low, high), n in zip(bounds, row, strict=True)]


@dataclass(frozen=True)
class Ranked:
    id: int | None  # the user's id (top users); None for a model
    name: str  # username or model
    credits: int
    requests: int
    share: float  # of all credits within the scope and filters (0.0 when there are none)


def _ranked(
    mirror_path: Path | str, scope: Scope, filters: Filters, column: str, limit: int
) -> list[Ranked]:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise AnalyticsError(f"the number of entries must be between 1 and {MAX_PAGE_SIZE}")
    source = source_for(filters, "credits", "requests")
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        condition, params = where(scope, filters, source)
        credits, requests = source.measure("credits"), source.measure("requests")
        total = int(
            con.execute(
                f"SELECT {credits} FROM {source.table} WHERE {condition}", params
            ).fetchone()[0]
        )
        rows = con.execute(
            f"SELECT {column} AS k, {credits} AS c, {requests} FROM {source.table} "
            f"WHERE {condition} GROUP BY k ORDER BY c DESC, k LIMIT {limit}",
            params,
        ).fetchall()
        names = labels(con, "user", {r[0] for r in rows}) if column == "user_id" else {}
    return [
        Ranked(
            int(k) if names else None,
            names.get(k, str(k)),
            int(c),
            int(n),
            int(c) / total if total else 0.0,
        )
        for k, c, n in rows
    ]


def top_users(
    mirror_path: Path | str, scope: Scope, filters: Filters, limit: int = 10
) -> list[Ranked]:
    """The users who spent most credits, with their share of the credits in view."""
    return _ranked(mirror_path, scope, filters, "user_id", limit)


def top_models(
    mirror_path: Path | str, scope: Scope, filters: Filters, limit: int = 10
) -> list[Ranked]:
    """The models that took most credits, with their share of the credits in view."""
    return _ranked(mirror_path, scope, filters, "model", limit)


@dataclass(frozen=True)
class MatrixCell:
    user_id: int
    username: str
    model: str
    credits: int
    requests: int


def user_model_matrix(mirror_path: Path | str, scope: Scope, filters: Filters) -> list[MatrixCell]:
    """Credits and requests per (user, model) pair that has any, by username then model."""
    source = source_for(filters, "credits", "requests")
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        condition, params = where(scope, filters, source)
        rows = con.execute(
            f"SELECT user_id, model, {source.measure('credits')}, {source.measure('requests')} "
            f"FROM {source.table} WHERE {condition} GROUP BY user_id, model",
            params,
        ).fetchall()
        names = labels(con, "user", {r[0] for r in rows})
    cells = [MatrixCell(int(u), names[u], str(m), int(c), int(n)) for u, m, c, n in rows]
    return sorted(cells, key=lambda cell: (cell.username, cell.model))


# --- single calls --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRow:
    id: int
    created_at: datetime  # aware, in the display time zone
    user_id: int
    username: str
    workspace_slug: str
    feature_key: str
    model: str
    provider: str
    status: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    images: int
    credits: int
    usd_cost_nanos: int | None
    latency_ms: int | None
    ttft_ms: int | None
    error_type: str | None
    error_message: str | None


@dataclass(frozen=True)
class CallsPage:
    rows: list[CallRow]
    total: int  # rows matching, over all pages
    page: int
    page_size: int


_CALL_COLUMNS: Final = (
    "u.id, u.created_at, u.user_id, coalesce(p.username, ''), coalesce(w.slug, ''), "
    "u.feature_key, u.model, u.provider, u.status, u.input_tokens, u.output_tokens, "
    "u.cached_tokens, u.images, u.credits, u.usd_cost_nanos, u.latency_ms, u.ttft_ms, "
    "u.error_type, u.error_message"
)


def calls(
    mirror_path: Path | str, scope: Scope, filters: Filters, page: int = 1, page_size: int = 50
) -> CallsPage:
    """One page (from 1) of the single calls, newest first."""
    if not isinstance(page, int) or page < 1:
        raise AnalyticsError(f"pages are numbered from 1, got {page!r:.20}")
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise AnalyticsError(f"a page holds between 1 and {MAX_PAGE_SIZE} calls")
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        condition, params = where(scope, filters)
        total = int(
            con.execute(f"SELECT count(*) FROM usage WHERE {condition}", params).fetchone()[0]
        )
        rows = con.execute(
            f"SELECT {_CALL_COLUMNS} FROM (SELECT * FROM usage WHERE {condition}) u "
            "LEFT JOIN users p ON p.id = u.user_id "
            "LEFT JOIN workspaces w ON w.id = u.workspace_id "
            "ORDER BY u.created_at DESC, u.id DESC "
            f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
            params,
        ).fetchall()
    return CallsPage([CallRow(*row) for row in rows], total, page, page_size)
