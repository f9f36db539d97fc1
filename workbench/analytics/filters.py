"""What an analytics query asks for (``Filters``), checked on construction, and the SQL condition it
turns into together with a viewer's ``Scope``.

Aggregates over whole UTC days in UTC display time read the daily rollup instead of the raw rows
(``Source``): the same figures from a table a few hundred times smaller, and the only ones that
still count the rows usage retention has purged (their sums stay in the rollup). Everything else
(hours, another display time zone, part-days, percentiles, single calls) reads the raw rows, and
so over a purged period sees only the rows still kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.schema import USAGE_STATUSES
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.scope import Scope

Grain = Literal["hour", "day", "week", "month"]
GRAINS: Final = get_args(Grain)
# The longest range a query may cover: five years (of 365.25 days), rounded up.
MAX_RANGE: Final = timedelta(days=1827)
ERROR_STATUSES: Final = ("error", "timeout")
_UTC_NAMES: Final = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu"})


def _ids(name: str, values: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if values is None:
        return None
    values = tuple(values)
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise AnalyticsError(f"{name} must be positive whole numbers, got {value!r:.40}")
    return values or None


def _names(name: str, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    values = tuple(values)
    for value in values:
        if not isinstance(value, str) or not value:
            raise AnalyticsError(f"{name} must be non-empty names, got {value!r:.40}")
    return values or None


@dataclass(frozen=True)
class Filters:
    """A time range [start, end) of aware datetimes, the bucket size and the display time zone
    buckets are cut in, and optional filters (None or empty: no filter)."""

    start: datetime
    end: datetime
    grain: Grain = "day"
    tz: str = "UTC"
    workspace_ids: tuple[int, ...] | None = None
    user_ids: tuple[int, ...] | None = None
    features: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    providers: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise AnalyticsError(f"the {name} of the range must be a date and time with a zone")
        if self.end <= self.start:
            raise AnalyticsError(
                f"the range is empty: it ends ({self.end:%Y-%m-%d %H:%M}) "
                f"before it starts ({self.start:%Y-%m-%d %H:%M})"
                if self.end < self.start
                else "the range is empty: it starts and ends at the same moment"
            )
        if self.end - self.start > MAX_RANGE:
            raise AnalyticsError("the range is longer than five years: choose a shorter one")
        if self.grain not in GRAINS:
            raise AnalyticsError(f"grain must be one of {', '.join(GRAINS)}, got {self.grain!r}")
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise AnalyticsError(f"unknown time zone {self.tz!r:.60}") from error
        object.__setattr__(self, "zone", zone)
        object.__setattr__(self, "workspace_ids", _ids("workspace ids", self.workspace_ids))
        object.__setattr__(self, "user_ids", _ids("user ids", self.user_ids))
        for name in ("features", "models", "providers", "statuses"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        unknown = sorted(set(self.statuses or ()) - set(USAGE_STATUSES))
        if unknown:
            raise AnalyticsError(
                f"unknown status {', '.join(unknown)}: choose from {', '.join(USAGE_STATUSES)}"
            )

    def previous(self) -> Filters:
        """The same filters over the period of the same length just before this one."""
        return replace(self, start=self.start - (self.end - self.start), end=self.start)

    @property
    def whole_utc_days(self) -> bool:
        """Whether buckets and range fall on UTC midnights (the daily rollup can answer)."""
        return (
            self.tz in _UTC_NAMES
            and self.grain != "hour"
            and all(t.astimezone(UTC).time() == time(0) for t in (self.start, self.end))
        )


@dataclass(frozen=True)
class Source:
    """A table to aggregate and the SQL of each measure and column over it."""

    table: str
    time: str
    measures: dict[str, str]

    def measure(self, name: str) -> str:
        return self.measures[name]


_ERRORS = f"status IN {ERROR_STATUSES!r}"

RAW: Final = Source(
    "usage",
    "created_at",
    {
        "requests": "count(*)",
        "credits": "coalesce(sum(credits), 0)",
        "errors": f"count(*) FILTER (WHERE {_ERRORS})",
        "calls": "count(*) FILTER (WHERE status <> 'refused')",
        "usd_cost_nanos": "coalesce(sum(usd_cost_nanos), 0)",
        "usd_cost_unknown": "count(*) FILTER (WHERE usd_cost_nanos IS NULL)",
        "credits_costed": "coalesce(sum(credits) FILTER (WHERE usd_cost_nanos IS NOT NULL), 0)",
        "input_tokens": "coalesce(sum(input_tokens), 0)",
        "output_tokens": "coalesce(sum(output_tokens), 0)",
        "cached_tokens": "coalesce(sum(cached_tokens), 0)",
        "images": "coalesce(sum(images), 0)",
        "active_users": "count(DISTINCT user_id)",
    },
)

ROLLUP: Final = Source(
    "usage_daily",
    "CAST(day AS TIMESTAMPTZ)",
    {
        "requests": "coalesce(sum(requests), 0)",
        "credits": "coalesce(sum(credits), 0)",
        "errors": f"coalesce(sum(requests) FILTER (WHERE {_ERRORS}), 0)",
        "calls": "coalesce(sum(requests) FILTER (WHERE status <> 'refused'), 0)",
        "usd_cost_nanos": "coalesce(sum(usd_cost_nanos), 0)",
        "usd_cost_unknown": "coalesce(sum(usd_cost_unknown), 0)",
        "credits_costed": "coalesce(sum(credits_costed), 0)",
        "input_tokens": "coalesce(sum(input_tokens), 0)",
        "output_tokens": "coalesce(sum(output_tokens), 0)",
        "cached_tokens": "coalesce(sum(cached_tokens), 0)",
        "images": "coalesce(sum(images), 0)",
        "active_users": "count(DISTINCT user_id)",
    },
)


def source_for(filters: Filters, *measures: str) -> Source:
    """The daily rollup when it can answer ``measures`` over ``filters`` exactly, else raw rows."""
    if filters.whole_utc_days and all(m in ROLLUP.measures for m in measures):
        return ROLLUP
    return RAW


def where(
    scope: Scope, filters: Filters, source: Source = RAW, *, totals_of: int | None = None
) -> tuple[str, list[object]]:
    """The SQL condition of ``filters`` within ``scope`` over ``source`` (checked against the
    scope first: a foreign workspace, or another person for a member, is an error). With
    ``totals_of``, every row of that workspace instead (for totals only: the caller must never
    return single rows or names from it)."""
    scope.check_workspaces(filters.workspace_ids or ())
    scope.check_users(filters.user_ids or ())
    if totals_of is None:
        condition, params = scope.row_predicate()
    else:
        scope.check_workspaces([totals_of])
        condition, params = "workspace_id = ?", [totals_of]
    clauses = [condition]
    if source is ROLLUP:
        clauses += ["day >= ?", "day < ?"]
        params += [filters.start.astimezone(UTC).date(), filters.end.astimezone(UTC).date()]
    else:
        clauses += ["created_at >= ?", "created_at < ?"]
        params += [filters.start, filters.end]
    for column, values in (
        ("workspace_id", filters.workspace_ids),
        ("user_id", filters.user_ids),
        ("feature_key", filters.features),
        ("model", filters.models),
        ("provider", filters.providers),
        ("status", filters.statuses),
    ):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params += list(values)
    return " AND ".join(clauses), params
