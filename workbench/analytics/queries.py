"""The analytics queries over the DuckDB mirror: figures, series, rankings and single calls.

Every function takes the mirror's path, the viewer's ``Scope`` and the ``Filters``, and adds the
scope's condition itself (``filters.where``): nothing here can return a row the viewer may not see.
Each call opens its own DuckDB connection, set to the display time zone so that buckets
(``date_trunc``) are cut at local midnights, and closes it.

Money stays integer: credits in micro-credits; provider cost and margin in nano-dollars (1 credit
is US$0.001, so one micro-credit is worth exactly one nano-dollar and margin is a subtraction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from workbench.analytics import mirror
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.filters import RAW, Filters, Source, source_for, where
from workbench.analytics.scope import Scope

SeriesBy = Literal["model", "feature", "user", "workspace"]
# by: the grouping column (users and workspaces are then named from the dimension tables)
_SERIES_KEYS: Final = {
    "model": "model",
    "feature": "feature_key",
    "user": "user_id",
    "workspace": "workspace_id",
}


@contextmanager
def open_mirror(path: Path | str, filters: Filters) -> Iterator[Any]:
    path = Path(path)
    if not path.exists():
        raise AnalyticsError(f"there is no analytics mirror at {path} yet: run a sync first")
    with mirror.connect(path) as con:
        if not con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'usage'"
        ).fetchone()[0]:
            raise AnalyticsError(f"the analytics mirror at {path} is empty: run a sync first")
        con.execute(f"SET TimeZone = '{filters.zone.key}'")
        yield con


def check_known(con: Any, filters: Filters) -> None:
    """Refuse filters naming users or workspaces that do not exist."""
    for table, label, ids in (
        ("users", "user", filters.user_ids),
        ("workspaces", "workspace", filters.workspace_ids),
    ):
        if ids:
            known = {r[0] for r in con.execute(f"SELECT id FROM {table}").fetchall()}
            unknown = sorted(set(ids) - known)
            if unknown:
                raise AnalyticsError(f"there is no {label} {', '.join(map(str, unknown))}")


# --- figures (the tiles) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The headline figures of one period. Money is integer: ``credits`` in micro-credits,
    ``usd_cost_nanos`` and ``margin_nanos`` in nano-dollars."""

    requests: int
    credits: int
    # The provider's cost of the calls whose cost is known, and how many rows had none.
    usd_cost_nanos: int
    usd_cost_unknown: int
    # What the credits of the calls with a known cost are worth, minus that cost.
    margin_nanos: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    images: int
    active_users: int
    # Calls that reached a provider (every row but refusals), and those that failed there.
    calls: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """Errors and timeouts over calls (refusals never reached a provider); None: no call."""
        return self.errors / self.calls if self.calls else None


@dataclass(frozen=True)
class Tiles:
    current: Figures
    previous: Figures


# The tiles' sums, in the order ``_figures`` reads them; then the percentiles, from raw rows only.
_SUMS: Final = (
    "requests",
    "credits",
    "usd_cost_nanos",
    "usd_cost_unknown",
    "credits_costed",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "images",
    "active_users",
    "calls",
    "errors",
)
_PERCENTILES: Final = (
    "quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), quantile_cont(ttft_ms, 0.5)"
)


def _figures(con: Any, scope: Scope, filters: Filters, totals_of: int | None = None) -> Figures:
    """Over whole UTC days the sums come from the daily rollup (the only source that still counts
    rows usage retention purged) and the percentiles from the raw rows; otherwise one query over
    the raw rows answers both."""
    source = source_for(filters, *_SUMS)
    condition, params = where(scope, filters, source, totals_of=totals_of)
    sums = ", ".join(source.measure(name) for name in _SUMS)
    if source is RAW:
        row = con.execute(
            f"SELECT {sums}, {_PERCENTILES} FROM usage WHERE {condition}", params
        ).fetchone()
    else:
        # One result at a time: a DuckDB connection holds only its latest.
        totals = con.execute(
            f"SELECT {sums} FROM {source.table} WHERE {condition}", params
        ).fetchone()
        raw_condition, raw_params = where(scope, filters, totals_of=totals_of)
        spread = con.execute(
            f"SELECT {_PERCENTILES} FROM usage WHERE {raw_condition}", raw_params
        ).fetchone()
        row = (*totals, *spread)
    (requests, credits, cost, unknown, costed, tin, tout, tcached, images, users, calls, errors) = (
        int(v) for v in row[:12]
    )
    p50, p95, ttft = (None if v is None else float(v) for v in row[12:])
    return Figures(
        requests=requests,
        credits=credits,
        usd_cost_nanos=cost,
        usd_cost_unknown=unknown,
        margin_nanos=costed - cost,
        input_tokens=tin,
        output_tokens=tout,
        cached_tokens=tcached,
        images=images,
        active_users=users,
        calls=calls,
        errors=errors,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        ttft_p50_ms=ttft,
    )


def tiles(mirror_path: Path | str, scope: Scope, filters: Filters) -> Tiles:
    """The headline figures of the period, and of the period of the same length before it."""
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        return Tiles(_figures(con, scope, filters), _figures(con, scope, filters.previous()))


def workspace_totals(
    mirror_path: Path | str, scope: Scope, filters: Filters, workspace_id: int | None = None
) -> Figures:
    """The figures of a whole workspace (the viewer's current one by default) — totals only, so a
    member may see them. A workspace the viewer does not belong to or run is an error."""
    target = workspace_id if workspace_id is not None else scope.workspace_id
    if target is None:
        raise AnalyticsError("choose a workspace for its totals")
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        return _figures(con, scope, filters, totals_of=target)


# --- series --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditsPoint:
    bucket: datetime  # the bucket's start, aware, in the display time zone
    key: str  # the model, feature key, username or workspace slug
    credits: int
    requests: int


@dataclass(frozen=True)
class RequestsPoint:
    bucket: datetime
    requests: int
    errors: int


def _bucket(source: Source, filters: Filters) -> str:
    return f"date_trunc('{filters.grain}', {source.time})"


def credits_series(
    mirror_path: Path | str, scope: Scope, filters: Filters, by: SeriesBy = "model"
) -> list[CreditsPoint]:
    """Credits and requests per bucket and per ``by`` (model, feature, user or workspace), in
    bucket then key order."""
    if by not in _SERIES_KEYS:
        raise AnalyticsError(f"a series is by model, feature, user or workspace, not {by!r:.40}")
    column = _SERIES_KEYS[by]
    source = source_for(filters, "credits", "requests")
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        condition, params = where(scope, filters, source)
        bucket = _bucket(source, filters)
        rows = con.execute(
            f"SELECT {bucket} AS b, {column} AS k, {source.measure('credits')}, "
            f"{source.measure('requests')} FROM {source.table} WHERE {condition} "
            f"GROUP BY b, k ORDER BY b, k",
            params,
        ).fetchall()
        names = labels(con, by, {r[1] for r in rows}) if by in ("user", "workspace") else {}
    return [CreditsPoint(b, names.get(k, str(k)), int(c), int(n)) for b, k, c, n in rows]


def labels(con: Any, by: str, ids: set[Any]) -> dict[Any, str]:
    """Names of the users or workspaces among ``ids`` (ids already within the scope)."""
    table, name = ("users", "username") if by == "user" else ("workspaces", "slug")
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = con.execute(f"SELECT id, {name} FROM {table} WHERE id IN ({marks})", list(ids))
    return {int(i): str(n) for i, n in rows.fetchall()}


def requests_series(mirror_path: Path | str, scope: Scope, filters: Filters) -> list[RequestsPoint]:
    """Requests, and errors and timeouts among them, per bucket (buckets with none left out)."""
    source = source_for(filters, "requests", "errors")
    with open_mirror(mirror_path, filters) as con:
        check_known(con, filters)
        condition, params = where(scope, filters, source)
        bucket = _bucket(source, filters)
        rows = con.execute(
            f"SELECT {bucket} AS b, {source.measure('requests')}, {source.measure('errors')} "
            f"FROM {source.table} WHERE {condition} GROUP BY b ORDER BY b",
            params,
        ).fetchall()
    return [RequestsPoint(b, int(n), int(e)) for b, n, e in rows]
