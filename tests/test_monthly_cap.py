"""A member's monthly spending cap counts captured and held credits in the calendar month (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger import errors
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, reserve


def test_cap_counts_held_and_captured_and_resets_next_month(
    ledger: Ledger, seeded: Seed, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 30, 23, 0, tzinfo=UTC)
    ledger.set_monthly_cap(seeded.workspace_id, seeded.member_id, credits(100))
    ledger.capture(reserve(ledger, seeded, credits(60), "r1"), credits(50), key="c1")  # 50 spent
    reserve(ledger, seeded, credits(40), "r2")  # 40 held: 90 used
    with pytest.raises(errors.CapExceeded) as caught:
        reserve(ledger, seeded, credits(11), "r3")
    assert caught.value.fields | {} == {
        "account_id": seeded.account_id,
        "user_id": seeded.member_id,
        "cap": credits(100),
        "used": credits(90),
        "needed": credits(11),
    }
    assert ledger.month_spend(seeded.account_id, seeded.member_id) == credits(90)
    assert reserve(ledger, seeded, credits(10), "r4")  # exactly up to the cap
    # Admins (no cap) are not limited by the member's cap.
    assert reserve(ledger, seeded, credits(200), "r5", user_id=seeded.admin_id)
    clock.now = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert reserve(ledger, seeded, credits(100), "r6")


def test_released_holds_do_not_count(ledger: Ledger, seeded: Seed) -> None:
    ledger.set_monthly_cap(seeded.workspace_id, seeded.member_id, credits(50))
    ledger.release(reserve(ledger, seeded, credits(50), "r1"), reason="provider error", key="rel")
    assert reserve(ledger, seeded, credits(50), "r2")


def test_zero_cap_blocks_spending(ledger: Ledger, seeded: Seed) -> None:
    ledger.set_monthly_cap(seeded.workspace_id, seeded.member_id, 0)
    with pytest.raises(errors.CapExceeded):
        reserve(ledger, seeded, credits(1), "r1")
    ledger.set_monthly_cap(seeded.workspace_id, seeded.member_id, None)
    assert reserve(ledger, seeded, credits(1), "r2")
