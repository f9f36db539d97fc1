"""The burn rate and its forecast: the workspace's captures over the last 7 days (totals, which a
member may see), rounded up to a whole micro-credit a day, against its available balance now."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ledger.amounts import credits
from ledger.service import Ledger
from ledger.usage import CallUsage
from tests.conftest import FakeClock, reserve, seed
from workbench.analytics import burn, mirror
from workbench.analytics.scope import scope_for

OK = CallUsage(provider="demo", status="ok", input_tokens=5, output_tokens=5, latency_ms=10)


def test_the_forecast_follows_the_last_seven_days(
    ledger: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    s = seed(ledger, credits(100))
    path = tmp_path / "mirror.duckdb"
    clock.advance(days=-20)
    old = reserve(ledger, s, credits(50), "old", user_id=s.admin_id)
    ledger.capture(old, credits(50), key="old", usage=OK)  # outside the window: not the rate
    clock.advance(days=17)
    for n, user in enumerate((s.member_id, s.admin_id)):
        hold = reserve(ledger, s, credits(5), f"r{n}", user_id=user)
        ledger.capture(hold, credits("3.5"), key=f"c{n}", usage=OK)
    clock.advance(days=3)
    mirror.sync(ledger.engine, path)

    # A member sees the whole workspace's pace (totals), not only their own calls.
    scope = scope_for(ledger, s.member_id, s.workspace_id)
    found = burn.forecast(path, scope, ledger, s.account_id, clock.now)
    assert found.available == credits(43)  # 100, less 50 before and two captures of 3.5
    assert found.per_day == credits(1)  # 7 credits over 7 days
    assert found.days_left == 43
    assert found.runs_out(clock.now) == clock.now + timedelta(days=43)
    text = burn.forecast_text(found, clock.now)
    assert text == (
        "43 credits available at 1 credit a day over the last 7 days: at that rate they run "
        f"out around {(clock.now + timedelta(days=43)):%Y-%m-%d} (UTC)."
    )


def test_no_spending_means_no_forecast(ledger: Ledger, clock: FakeClock, tmp_path: Path) -> None:
    s = seed(ledger, credits(10))
    path = tmp_path / "mirror.duckdb"
    mirror.sync(ledger.engine, path)
    found = burn.forecast(
        path, scope_for(ledger, s.admin_id, s.workspace_id), ledger, s.account_id, clock.now
    )
    assert (found.per_day, found.days_left, found.runs_out(clock.now)) == (0, None, None)
    assert burn.forecast_text(found, clock.now) == (
        "10 credits available; nothing was spent in the last 7 days."
    )
