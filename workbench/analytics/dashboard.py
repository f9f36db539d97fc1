"""The Usage analytics page's logic (``pages/usage.py``): where the mirror lives and keeping it
fresh, the choices the filter widgets offer within the viewer's scope, ``Filters`` from what was
picked, the page's sections (tabs) and the tiles above them as people read them. What each
section shows is in ``sections``, charts in ``charts``, tables and the export in ``tables``,
widgets in ``widgets``.

Nothing here widens the scope: the queries add the viewer's condition themselves; this module only
avoids offering a member what they may not see (other people as filters, tables or stacks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Engine

from ledger.amounts import format_credits
from ledger.schema import USAGE_STATUSES
from workbench.analytics import mirror, queries, rollups
from workbench.analytics.errors import AnalyticsError
from workbench.analytics.filters import Filters, Grain
from workbench.analytics.queries import CreditsPoint, Figures, SeriesBy, Tiles
from workbench.analytics.scope import Level, Scope
from workbench.config import Settings

QUICK_PICKS: Final = ("Today", "7 days", "30 days", "This month", "Last month")
GRAINS: Final[tuple[Grain, ...]] = ("hour", "day", "week", "month")
ZONES: Final = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
# Hourly buckets over more than this many days would draw thousands of bars.
MAX_HOURLY_DAYS: Final = 31
_NANOS_PER_USD: Final = 10**9


def mirror_path(config: Settings) -> Path:
    """The DuckDB mirror: ``WORKBENCH_ANALYTICS_MIRROR``, else beside the app's other files, in
    the image folder's parent (``data/`` by default, a test's temporary folder under test)."""
    if config.analytics_mirror is not None:
        return Path(config.analytics_mirror)
    return Path(config.image_dir).parent / "analytics.duckdb"


def refresh(engine: Engine, path: Path) -> str | None:
    """Copy the newest usage into the mirror (a couple of indexed reads when nothing is new). A
    busy mirror that already exists is shown as it is, with the sentence returned as a warning;
    one that does not exist yet is an ``AnalyticsError``."""
    try:
        mirror.sync(engine, path)
    except AnalyticsError as error:
        if not path.exists():
            raise
        return f"showing usage as of the last refresh ({error})"
    return None


# --- what the filter widgets offer ---------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """The values the filters may pick, all within the viewer's scope. ``users`` is empty for a
    member (who sees only their own usage)."""

    workspaces: dict[int, str]
    # Whether the viewer may see other people (tables and filters by person): not a member.
    sees_people: bool
    users: dict[int, str]
    features: list[str]
    models: list[str]
    providers: list[str]
    statuses: tuple[str, ...] = USAGE_STATUSES


def choices(path: Path, scope: Scope) -> Choices:
    """Workspaces the viewer may name, and the people, features, models and providers found in
    the usage they may see (over all time)."""
    condition, params = scope.row_predicate()
    with mirror.connect(path) as con:

        def distinct(column: str) -> list[str]:
            # From the daily rollup: it holds every mirrored row's values, those of days whose
            # raw rows were purged too (``workbench purge``), in far fewer rows.
            rows = con.execute(
                f"SELECT DISTINCT {column} FROM {rollups.TABLE} WHERE {condition} ORDER BY 1",
                params,
            ).fetchall()
            return [str(row[0]) for row in rows]

        places = {
            int(i): str(s) for i, s in con.execute("SELECT id, slug FROM workspaces").fetchall()
        }
        users: dict[int, str] = {}
        if scope.level is not Level.MEMBER:
            ids = {int(u) for u in distinct("user_id")}
            users = queries.labels(con, "user", ids)
        features, models, providers = (distinct(c) for c in ("feature_key", "model", "provider"))
    if not scope.sees_everything:
        places = {i: s for i, s in places.items() if i in scope.reachable}
    return Choices(
        workspaces=dict(sorted(places.items(), key=lambda item: item[1])),
        sees_people=scope.level is not Level.MEMBER,
        users=dict(sorted(users.items(), key=lambda item: item[1])),
        features=features,
        models=models,
        providers=providers,
    )


def stack_options(scope: Scope) -> list[SeriesBy]:
    """What the credits chart may be stacked by: never by person for a member."""
    if scope.level is Level.MEMBER:
        return ["model", "feature", "workspace"]
    return ["model", "feature", "user", "workspace"]


def quick_range(pick: str, today: date) -> tuple[date, date]:
    """The first and last day (both included) of a quick pick, ``today`` in the display zone."""
    if pick == "Today":
        return today, today
    if pick == "7 days":
        return today - timedelta(days=6), today
    if pick == "30 days":
        return today - timedelta(days=29), today
    first = today.replace(day=1)
    if pick == "This month":
        return first, today
    if pick == "Last month":
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    raise AnalyticsError(f"unknown quick pick {pick!r:.40}")


def today_in(tz: str) -> date:
    return datetime.now(_zone(tz)).date()


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise AnalyticsError(f"unknown time zone {tz!r:.60}") from error


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def build_filters(
    first: date | None,
    last: date | None,
    grain: str,
    tz: str,
    *,
    workspaces: Sequence[int] = (),
    users: Sequence[int] = (),
    features: Sequence[str] = (),
    models: Sequence[str] = (),
    providers: Sequence[str] = (),
    statuses: Sequence[str] = (),
) -> Filters:
    """``Filters`` for the days ``first`` to ``last`` (both included) in ``tz``: from midnight
    of the first to midnight after the last. Bad choices are an ``AnalyticsError`` sentence."""
    if not isinstance(first, date) or not isinstance(last, date):
        raise AnalyticsError("choose both a first and a last day")
    if last < first:
        raise AnalyticsError(
            f"the range ends on {_day(last)}, before it starts on {_day(first)}: "
            "choose a last day on or after the first"
        )
    zone = _zone(tz)
    if grain == "hour" and (last - first).days + 1 > MAX_HOURLY_DAYS:
        raise AnalyticsError(
            f"grouping by hour covers at most {MAX_HOURLY_DAYS} days: "
            "choose a shorter range or group by day, week or month"
        )
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    return Filters(
        start,
        end,
        grain,  # type: ignore[arg-type]  # checked by Filters
        tz,
        workspace_ids=tuple(workspaces) or None,
        user_ids=tuple(users) or None,
        features=tuple(features) or None,
        models=tuple(models) or None,
        providers=tuple(providers) or None,
        statuses=tuple(statuses) or None,
    )


# --- what the page shows ------------------------------------------------------------------------

# The page's sections, each a tab that runs only when open (``sections.py``).
CREDITS, TRAFFIC, HEALTH, CALLS = "Credits", "Requests and latency", "Health", "Calls"
RANKINGS, RANKINGS_OWN = "Top models and users", "Top models"


def section_names(scope: Scope) -> list[str]:
    """The tabs the viewer gets: no people's ranking and no health figures for a member."""
    if scope.level is Level.MEMBER:
        return [CREDITS, TRAFFIC, RANKINGS_OWN, CALLS]
    return [CREDITS, TRAFFIC, RANKINGS, HEALTH, CALLS]


@dataclass(frozen=True)
class Headline:
    tiles: Tiles
    totals: Figures  # the viewer's current workspace, whole (totals only)


def headline(path: Path, scope: Scope, filters: Filters) -> Headline:
    """The tiles above the sections, for ``filters`` within ``scope``."""
    return Headline(
        tiles=queries.tiles(path, scope, filters),
        totals=queries.workspace_totals(path, scope, filters),
    )


def credits_series(path: Path, scope: Scope, filters: Filters, by: SeriesBy) -> list[CreditsPoint]:
    """Credits per period stacked by ``by``, which must be a stack the viewer is offered."""
    if by not in stack_options(scope):
        raise AnalyticsError("as a member you can see only your own usage, not stacked by person")
    return queries.credits_series(path, scope, filters, by)


# --- tiles ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None
    delta_color: str  # "normal", "inverse" or "off" (st.metric's)
    help: str | None = None


def usd(nanos: int) -> str:
    """Nano-dollars as US dollars: cents from $1 up, four decimals below ("$0.0123")."""
    amount = Decimal(abs(nanos)) / _NANOS_PER_USD
    places = Decimal("0.01") if amount >= 1 else Decimal("0.0001")
    sign = "-" if nanos < 0 else ""
    return f"{sign}${amount.quantize(places):,}"


def _count(n: int) -> str:
    return f"{n:,}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _signed(text: str, diff: float) -> str | None:
    if diff == 0:
        return None
    return text if text.startswith("-") else f"+{text}"


def _delta_int(now: int, before: int, shown: str) -> str | None:
    return _signed(shown, now - before)


def tiles(found: Tiles) -> list[Tile]:
    """The headline tiles with their change against the previous period of the same length."""
    now, was = found.current, found.previous

    def counted(label: str, a: int, b: int, color: str = "normal") -> Tile:
        return Tile(label, _count(a), _delta_int(a, b, _count(a - b)), color)

    def timed(label: str, a: float | None, b: float | None) -> Tile:
        delta = None if a is None or b is None else _signed(_ms(a - b), round(a - b))
        return Tile(label, _ms(a), delta, "inverse")

    rate_delta = None
    if now.error_rate is not None and was.error_rate is not None:
        points = (now.error_rate - was.error_rate) * 100
        rate_delta = _signed(f"{points:.1f} pp", round(points, 1))
    unknown = (
        f"{now.usd_cost_unknown:,} rows have no known provider cost and are left out."
        if now.usd_cost_unknown
        else None
    )
    return [
        counted("Requests", now.requests, was.requests),
        Tile(
            "Credits spent",
            format_credits(now.credits),
            _delta_int(now.credits, was.credits, format_credits(now.credits - was.credits)),
            "off",
        ),
        Tile(
            "Provider cost (USD)",
            usd(now.usd_cost_nanos),
            _delta_int(
                now.usd_cost_nanos, was.usd_cost_nanos, usd(now.usd_cost_nanos - was.usd_cost_nanos)
            ),
            "off",
            unknown,
        ),
        Tile(
            "Margin (USD)",
            usd(now.margin_nanos),
            _delta_int(
                now.margin_nanos, was.margin_nanos, usd(now.margin_nanos - was.margin_nanos)
            ),
            "normal",
            "What the credits of calls with a known cost are worth, minus that cost.",
        ),
        counted("Input tokens", now.input_tokens, was.input_tokens),
        counted("Output tokens", now.output_tokens, was.output_tokens),
        counted("Cached tokens", now.cached_tokens, was.cached_tokens),
        counted("Images", now.images, was.images),
        counted("Active users", now.active_users, was.active_users),
        Tile(
            "Error rate",
            _rate(now.error_rate),
            rate_delta,
            "inverse",
            "Errors and timeouts among calls that reached a provider (refusals left out).",
        ),
        timed("Latency p50", now.latency_p50_ms, was.latency_p50_ms),
        timed("Latency p95", now.latency_p95_ms, was.latency_p95_ms),
        timed("Time to first token p50", now.ttft_p50_ms, was.ttft_p50_ms),
    ]


def totals_tiles(figures: Figures) -> list[Tile]:
    """The whole current workspace, in the same range and filters (totals, no names)."""
    return [
        Tile("Workspace requests", _count(figures.requests), None, "off"),
        Tile("Workspace credits spent", format_credits(figures.credits), None, "off"),
        Tile("Workspace active users", _count(figures.active_users), None, "off"),
    ]
