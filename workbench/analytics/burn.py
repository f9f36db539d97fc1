"""The burn rate: what the viewer's workspace spends a day at the current rate (its captures
over the last 7 days, whole-workspace totals, which a member may see) and when its available
balance runs out at that rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.amounts import credits_text
from workbench.analytics import queries
from workbench.analytics.filters import Filters
from workbench.analytics.scope import Scope

if TYPE_CHECKING:
    from ledger.service import Ledger

WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Forecast:
    available: int  # micro-credits available now
    per_day: int  # micro-credits a day over the last 7 days, rounded up

    @property
    def days_left(self) -> float | None:
        return None if self.per_day == 0 else self.available / self.per_day

    def runs_out(self, now: datetime) -> datetime | None:
        days = self.days_left
        return None if days is None else now + timedelta(days=days)


def forecast(path: Path, scope: Scope, ledger: Ledger, account_id: int, now: datetime) -> Forecast:
    """The viewer's current workspace (``scope.workspace_id``) at the last 7 days' rate."""
    spent = queries.workspace_totals(path, scope, Filters(start=now - WINDOW, end=now)).credits
    per_day = -(-spent // WINDOW.days)  # rounded up: never overstate how long it lasts
    return Forecast(ledger.balance(account_id).available, per_day)


def forecast_text(found: Forecast, now: datetime) -> str:
    """One plain sentence (numbers and dates only)."""
    left = f"{credits_text(found.available)} available"
    ends = found.runs_out(now)
    if ends is None:
        return f"{left}; nothing was spent in the last 7 days."
    rate = f"{credits_text(found.per_day)} a day over the last 7 days"
    if found.days_left is not None and found.days_left > 3650:
        return f"{left} at {rate}: that lasts more than ten years."
    return f"{left} at {rate}: at that rate they run out around {ends:%Y-%m-%d} (UTC)."
