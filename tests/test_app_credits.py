"""My credits: available and held, the person's spending against their cap, the ledger's lines in
pages of 25 with Newer/Older, the kind filter, and the packs and plans on offer (buying them is in
tests/test_app_credits_purchases.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from tests.app_harness import (
    CREDITS,
    AppEnv,
    assert_no_exception,
    button,
    metrics,
    sidebar_text,
    the_table,
)
from tests.billing_app_harness import billing_env
from workbench.billing.service import NOT_CONFIGURED

PAGE_SIZE = 25
SEEDED = 50_000
COLUMNS = ["when (UTC)", "kind", "credits", "held", "hold", "reason"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch, micros=credits(SEEDED)) as opened:
        yield opened


def grants(env: AppEnv, count: int, first: int = 1) -> None:
    """``count`` more grant lines of 1, 2, 3... credits (the seed is one line already)."""
    for n in range(first, first + count):
        env.svc.ledger.grant(
            env.account_id, credits(n), kind="promo", key=f"promo-{n}", reason=f"promo {n}"
        )


def credits_page(env: AppEnv) -> AppTest:
    return env.signed_in(env.member, CREDITS)


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.main.button]


def test_the_page_shows_available_held_and_spending(env: AppEnv) -> None:
    at = credits_page(env)
    assert_no_exception(at)
    assert metrics(at) == {
        "Available": f"{SEEDED:,}",
        "Held for calls in progress": "0",
        "My spending this month": "0",
    }
    assert at.progress == []  # no cap


def test_a_pending_hold_shows_as_held_here_and_in_the_sidebar(env: AppEnv) -> None:
    env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits("1234.5"),
        key="pending-hold",
    )
    at = credits_page(env)
    assert metrics(at)["Available"] == "48,765.5"
    assert metrics(at)["Held for calls in progress"] == "1,234.5"
    assert "Credits available: 48,765.5" in sidebar_text(at)
    assert "1,234.5 held for calls in progress" in sidebar_text(at)
    frame = the_table(at)
    assert frame["kind"].tolist() == ["hold", "grant"]
    assert frame["held"].tolist()[0] == "1,234.5"


def test_spending_against_a_monthly_cap(env: AppEnv) -> None:
    env.svc.ledger.set_monthly_cap(env.workspace.id, env.member.id, credits(1_000))
    hold = env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(300),
        key="spend",
    ).hold
    env.svc.ledger.capture(hold.id, credits(250), key="spend-capture")
    at = credits_page(env)
    assert metrics(at)["My spending this month"] == "250 of 1,000"
    [bar] = at.progress
    assert bar.proto.text == "25% of your monthly cap used"


def test_a_fraction_of_a_credit_shows_with_the_decimals_that_matter(env: AppEnv) -> None:
    """A 500-in/200-out GPT-4o mini call costs 0.234 credits: shown as such, never as 1 (or 0)."""
    env.svc.ledger.set_monthly_cap(env.workspace.id, env.member.id, credits(1_000))
    hold = env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits("0.5"),
        key="small",
    ).hold
    env.svc.ledger.capture(hold.id, credits("0.234"), key="small-capture")
    at = credits_page(env)
    assert metrics(at)["Available"] == "49,999.77"  # 49,999.766
    assert metrics(at)["My spending this month"] == "0.234 of 1,000"
    assert "Credits available: 49,999.77" in sidebar_text(at)
    [bar] = at.progress
    assert bar.proto.text == "0% of your monthly cap used"
    frame = the_table(at)
    lines = list(zip(frame["kind"], frame["credits"], frame["held"], strict=True))
    assert sorted(lines) == [
        ("capture", "-0.234", "-0.234"),
        ("grant", "50,000", "0"),
        ("hold", "0", "0.5"),
        ("release", "0", "-0.266"),
    ]


def test_the_history_table_lists_the_ledger_lines(env: AppEnv) -> None:
    grants(env, 2)
    at = credits_page(env)
    frame = the_table(at)
    assert frame.columns.tolist() == COLUMNS
    assert frame["kind"].tolist() == ["grant", "grant", "grant"]
    assert frame["credits"].tolist() == ["2", "1", "50,000"]  # newest first
    assert frame["reason"].tolist()[:2] == ["promo 2", "promo 1"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", w) for w in frame["when (UTC)"])
    # One page only: no paging buttons.
    assert "Older" not in labels(at)
    assert "Newer" not in labels(at)


def test_more_than_25_lines_are_paged_with_newer_and_older(env: AppEnv) -> None:
    grants(env, 30)  # 31 lines with the seed
    at = credits_page(env)
    first = the_table(at)
    assert len(first) == PAGE_SIZE
    assert first["credits"].tolist() == [str(n) for n in range(30, 5, -1)]
    assert "Older" in labels(at)
    assert "Newer" not in labels(at)

    at = button(at, "Older").click().run()
    assert_no_exception(at)
    second = the_table(at)
    assert second["credits"].tolist() == ["5", "4", "3", "2", "1", "50,000"]
    assert "Newer" in labels(at)
    assert "Older" not in labels(at)

    at = button(at, "Newer").click().run()
    assert the_table(at)["credits"].tolist() == first["credits"].tolist()
    assert "Newer" not in labels(at)


def test_exactly_25_lines_offer_no_older_page(env: AppEnv) -> None:
    """The brief's promise: paging buttons when there are MORE than 25 lines. With exactly 25,
    "Older" leads to an empty page ("No ledger lines match.")."""
    grants(env, PAGE_SIZE - 1)
    at = credits_page(env)
    assert len(the_table(at)) == PAGE_SIZE
    assert "Older" not in labels(at)


def test_the_kind_filter(env: AppEnv) -> None:
    env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(10),
        key="filter-hold",
    )
    at = credits_page(env)
    assert set(the_table(at)["kind"]) == {"grant", "hold"}
    at.multiselect(key="history_kinds").set_value(["hold"]).run()
    assert the_table(at)["kind"].tolist() == ["hold"]
    at.multiselect(key="history_kinds").set_value(["refund"]).run()
    assert at.dataframe == []
    assert "No ledger lines match." in [c.value for c in at.caption]


def test_changing_the_filter_starts_again_from_the_newest_lines(env: AppEnv) -> None:
    """On the second page, choosing a kind must show the newest lines of that kind, not only
    those older than the page the person happened to be on."""
    grants(env, 30)
    at = credits_page(env)
    at = button(at, "Older").click().run()
    at.multiselect(key="history_kinds").set_value(["grant"]).run()
    assert the_table(at)["credits"].tolist()[0] == "30"
    assert "Newer" not in labels(at)


def test_the_packs_and_plans_on_offer_without_purchases(env: AppEnv) -> None:
    at = credits_page(env)
    assert [s.value for s in at.subheader] == ["History", "Credit packs", "Plans"]
    packs = env.svc.billing.offers("pack")
    assert packs, "the shipped catalogue has packs"
    shown = [m.value for m in at.main.markdown]
    expected = {"Starter": "10,000", "Team": "55,000", "Department": "240,000"}
    assert {pack.name: pack.micros for pack in packs} == {
        name: credits(amount.replace(",", "")) for name, amount in expected.items()
    }
    for pack in packs:
        line = f"**{pack.name}**: {expected[pack.name]} credits for US${pack.price_usd}"
        assert any(text.startswith(line) for text in shown), line
    plans = env.svc.billing.offers("plan")
    assert plans, "the shipped catalogue has plans"
    for plan in plans:
        line = (
            f"**{plan.name}**: {plan.micros // 1_000_000:,} credits a month for US${plan.price_usd}"
        )
        assert any(text.startswith(line) for text in shown), line
    [hint] = at.info
    assert hint.value == NOT_CONFIGURED
    assert not [b for b in at.main.button if b.label in ("Buy", "Subscribe")]


def test_an_admin_sees_the_same_page(env: AppEnv) -> None:
    at = env.signed_in(env.admin, CREDITS)
    assert_no_exception(at)
    assert metrics(at)["Available"] == f"{SEEDED:,}"
