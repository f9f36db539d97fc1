"""Credit admin (admins only): the workspace account's balance, available and held, and its recent
usage rows, and nothing from another workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits, format_credits
from tests.app_harness import (
    ADMIN_CREDITS,
    CHAT,
    IMAGES,
    AppEnv,
    app_env,
    assert_no_exception,
    button,
    metrics,
    the_table,
)

SEEDED = 20_000


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(SEEDED)) as opened:
        yield opened


def admin_page(env: AppEnv) -> AppTest:
    return env.signed_in(env.admin, ADMIN_CREDITS)


def test_no_calls_yet(env: AppEnv) -> None:
    at = admin_page(env)
    assert_no_exception(at)
    assert at.error == []
    assert metrics(at) == {"Balance": "20,000", "Available": "20,000", "Held": "0"}
    assert [s.value for s in at.subheader] == ["Recent usage"]
    assert "No calls yet." in [c.value for c in at.caption]
    assert at.dataframe == []


def test_holds_in_flight_show_as_held(env: AppEnv) -> None:
    env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits("500.25"),
        key="in-flight",
    )
    assert metrics(admin_page(env)) == {
        "Balance": "20,000",
        "Available": "19,499.75",
        "Held": "500.25",
    }


def test_recent_usage_lists_the_workspaces_calls(env: AppEnv) -> None:
    # A member chats with the demo model; another member makes an image.
    chat = env.signed_in(env.member, CHAT)
    chat.chat_input(key="chat_prompt").set_value("Hello").run()
    images = env.signed_in(env.other, IMAGES)
    images.text_area(key="img_prompt").set_value("A kite")
    button(images, "Generate").click().run()

    at = admin_page(env)
    assert_no_exception(at)
    frame = the_table(at)
    rows = env.usage_rows()
    assert len(frame) == 2
    assert sorted(frame["model"]) == ["demo/chat", "demo/images"]
    assert set(frame["status"]) == {"ok"}
    assert sorted(frame["user"]) == sorted([env.member.username, env.other.username])
    assert sorted(frame["credits"]) == sorted(format_credits(r.credits) for r in rows)
    # The demo chat's short reply costs a fraction of a credit, shown with its decimals.
    [chat_row] = [r for r in rows if r.model == "demo/chat"]
    assert 0 < chat_row.credits < credits(1)
    assert frame.loc[frame["model"] == "demo/chat", "credits"].tolist() == [
        format_credits(chat_row.credits)
    ]
    assert frame.loc[frame["model"] == "demo/chat", "credits"].tolist()[0].startswith("0.")
    assert frame.loc[frame["model"] == "demo/images", "images"].tolist() == [1]
    spent = sum(r.credits for r in rows)
    assert metrics(at) == {
        "Balance": format_credits(credits(SEEDED) - spent),
        "Available": format_credits(credits(SEEDED) - spent),
        "Held": "0",
    }


def test_another_workspaces_usage_is_not_shown(env: AppEnv) -> None:
    ledger = env.svc.ledger
    beta = ledger.create_workspace("beta", "Beta")
    bob = ledger.create_user("bob", "Bob Beta")
    ledger.add_member(beta.id, bob.id, "member")
    ledger.grant(beta.account_id, credits(5_000), kind="paid", key="beta-seed")
    chat = env.signed_in(bob, CHAT)
    chat.chat_input(key="chat_prompt").set_value("Hello from beta").run()
    assert len(env.usage_rows()) == 1

    at = admin_page(env)
    assert at.dataframe == []
    assert "No calls yet." in [c.value for c in at.caption]
    assert metrics(at)["Balance"] == "20,000"
