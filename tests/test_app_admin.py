"""Credit admin (workspace admins and operators): members are refused; a workspace admin sees
their workspace's account (balance, available and held), its recent usage rows and nothing from
another workspace, and cannot add credits (no form, and the ledger refuses)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits, format_credits
from ledger.errors import NotAllowed
from tests.admin_credits_harness import state, table_with
from tests.app_harness import (
    ADMIN_CREDITS,
    CHAT,
    IMAGES,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    button,
    metrics,
)
from workbench.ui.page_registry import PAGES_DIR

SEEDED = 20_000


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(SEEDED)) as opened:
        yield opened


def admin_page(env: AppEnv) -> AppTest:
    return env.signed_in(env.admin, ADMIN_CREDITS)


def test_a_member_is_refused(env: AppEnv) -> None:
    """The menu never offers the page to a member; run its script directly with a member signed
    in (what would happen if it did) and it stops with one sentence before showing anything."""
    at = AppTest.from_file(str(PAGES_DIR / "admin_credits.py"), default_timeout=30)
    at.session_state["who"] = env.signed_in(env.member).session_state["who"]
    at.run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == ["This page is for workspace admins and operators."]
    assert at.dataframe == [] and at.main.metric == [] and at.text_input == []


def test_no_calls_yet(env: AppEnv) -> None:
    at = admin_page(env)
    assert_no_exception(at)
    assert at.error == []
    assert metrics(at) == {"Balance": "20,000", "Available": "20,000", "Held": "0"}
    assert "Recent usage" in [s.value for s in at.subheader]
    assert "No calls yet." in [c.value for c in at.caption]
    assert not [t for t in at.dataframe if "model" in t.value.columns]  # no usage table
    assert list(table_with(at, "spent this month")["workspace"]) == ["acme"]


def test_a_workspace_admin_cannot_top_up(env: AppEnv) -> None:
    at = admin_page(env)
    labels = [b.label for b in at.button]
    for operators_only in ("Review top-up", "Review take-back", "Review void"):
        assert operators_only not in labels
    assert "Operators (the platform and finance team) add and take back credits." in all_text(at)
    before = state(env)
    with pytest.raises(NotAllowed):
        env.svc.ledger.top_up(
            env.workspace.id,
            credits(100),
            kind="paid",
            actor_user_id=env.admin.id,
            reason="my own top-up",
            key="admin-tries",
        )
    assert state(env) == before


def test_holds_in_flight_show_as_held(env: AppEnv) -> None:
    env.svc.ledger.reserve(
        env.account_id,
        user_id=env.member.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits("500.25"),
        key="in-flight",
    )
    at = admin_page(env)
    assert metrics(at) == {
        "Balance": "20,000",
        "Available": "19,499.75",
        "Held": "500.25",
    }
    holds = table_with(at, "time left")
    assert list(holds["amount"]) == ["500.25"] and list(holds["user"]) == [env.member.username]


def test_recent_usage_lists_the_workspaces_calls(env: AppEnv) -> None:
    # A member chats with the demo model; another member makes an image.
    chat = env.signed_in(env.member, CHAT)
    chat.chat_input(key="chat_prompt").set_value("Hello").run()
    images = env.signed_in(env.other, IMAGES)
    images.text_area(key="img_prompt").set_value("A kite")
    button(images, "Generate").click().run()

    at = admin_page(env)
    assert_no_exception(at)
    frame = table_with(at, "model")  # the recent usage table
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
    assert not [t for t in at.dataframe if "model" in t.value.columns]
    assert "No calls yet." in [c.value for c in at.caption]
    assert metrics(at)["Balance"] == "20,000"
    # Neither beta's account nor its people: the admin runs acme only.
    assert list(table_with(at, "spent this month")["workspace"]) == ["acme"]
    assert at.selectbox(key="accounts_open").options == ["acme (Acme)"]
    assert "bob" not in list(table_with(at, "username")["username"])
    assert "beta" not in all_text(at)
