"""A workspace below its low-balance threshold is warned on every page: what is left, the
threshold, and how long it lasts at the last 7 days' rate. No warning above the threshold or
without one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.admin_views import LowBalance
from ledger.amounts import credits
from tests.app_harness import CHAT, CREDITS, IMAGES, AppEnv, app_env, assert_no_exception
from workbench.ui.chrome import low_balance_text

ADMIN_PRICING = "../../pages/admin_pricing.py"
SEEDED = 50
NO_SPENDING = (
    "Low balance: 50 credits left, below this workspace's threshold of 100. "
    "There has been no spending in the last 7 days."
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(SEEDED)) as opened:
        yield opened


def threshold(env: AppEnv, amount: int | None) -> None:
    env.svc.ledger.set_low_balance_threshold(env.workspace.id, amount, actor_user_id=env.admin.id)


def warnings(env: AppEnv, page: str, user: str = "member") -> list[str]:
    at = env.signed_in(env.operator if user == "operator" else env.member, page)
    assert_no_exception(at)
    return [str(w.value) for w in at.warning]


@pytest.mark.parametrize("page", [CHAT, IMAGES, CREDITS], ids=["chat", "images", "credits"])
def test_every_page_warns_below_the_threshold(env: AppEnv, page: str) -> None:
    threshold(env, credits(100))
    assert warnings(env, page) == [NO_SPENDING]


def test_the_operators_pages_warn_too(env: AppEnv) -> None:
    threshold(env, credits(100))
    assert warnings(env, ADMIN_PRICING, "operator") == [NO_SPENDING]


@pytest.mark.parametrize(
    "amount", [None, credits(SEEDED), credits(10)], ids=["none", "at", "below"]
)
def test_no_warning_without_a_threshold_or_at_or_above_it(env: AppEnv, amount: int | None) -> None:
    threshold(env, amount)
    for page in (CHAT, IMAGES, CREDITS):
        assert warnings(env, page) == []


def test_spending_says_how_long_the_rest_lasts(env: AppEnv) -> None:
    chat = env.signed_in(env.member, CHAT)
    chat.chat_input(key="chat_prompt").set_value("Hello").run()
    assert_no_exception(chat)
    threshold(env, credits(100))
    low = env.svc.ledger.low_balance(env.workspace.id)
    assert low is not None and low.per_day > 0
    [shown] = warnings(env, CREDITS)
    assert shown == low_balance_text(low)
    assert "At the last 7 days' rate that lasts about " in shown


@pytest.mark.parametrize(
    ("available", "per_day", "lasts"),
    [
        ("12.5", "4", "about 3 days"),
        ("12.5", "10", "about 1 day"),
        ("12.5", "13", "less than a day"),
        ("0", "1", "less than a day"),
    ],
)
def test_the_warning_reads_in_credits_and_days(available: str, per_day: str, lasts: str) -> None:
    low = LowBalance(credits(available), credits(100), credits(per_day))
    assert low_balance_text(low) == (
        f"Low balance: {available} credits left, below this workspace's threshold of 100. "
        f"At the last 7 days' rate that lasts {lasts}."
    )
