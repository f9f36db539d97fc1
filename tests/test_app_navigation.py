"""Every page renders for each role with its breadcrumb, title and the shared sidebar; the
navigation is built from the role, so a member has no admin page at all (not in the menu, not
reachable by URL, and refused on the server if run anyway), and a role taken away takes effect at
the next run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from ledger.owners import User
from ledger.schema import memberships
from tests.app_harness import (
    ADMIN_CREDITS,
    CHAT,
    CREDITS,
    IMAGES,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    metrics,
    navigation_pages,
    sidebar_text,
)
from workbench.ui.page_registry import PAGES, PAGES_DIR, spec
from workbench.ui.session import SESSION_KEY

# The Usage analytics page, for ``AppTest.switch_page`` (like tests/app_harness.py's constants).
USAGE = "../../pages/usage.py"
ADMIN_ONLY_TEXT = "This page is for workspace admins and operators."


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits("12345.67")) as opened:
        yield opened


def who(env: AppEnv, role: str) -> User:
    return env.admin if role == "admin" else env.member


def assert_page(at: AppTest, url_path: str) -> None:
    page = spec(url_path)
    assert_no_exception(at)
    assert [t.value for t in at.title] == [page.title]
    captions = [c.value for c in at.main.caption]
    assert page.breadcrumb in captions
    assert page.description in captions


def assert_sidebar(at: AppTest, user: User, role: str) -> None:
    shown = sidebar_text(at)
    assert f"**{user.display_name}** · {role}" in shown
    assert "Workspace: Acme" in shown
    assert "Credits available: 12,345.67" in shown
    # Every page's sidebar: Sign out; Chat (the default page) adds its conversation list there.
    assert [b.label for b in at.sidebar.button][:1] == ["Sign out"]
    assert {b.label for b in at.sidebar.button[1:]} <= {"New conversation"}


def assert_no_admin_content(at: AppTest) -> None:
    assert "Recent usage" not in [s.value for s in at.subheader]
    assert "Credit admin" not in [t.value for t in at.title]
    assert "Admin › Credit admin" not in all_text(at)
    assert "Balance" not in [m.label for m in at.main.metric]


@pytest.mark.parametrize("role", ["member", "admin"])
@pytest.mark.parametrize(
    ("page", "url_path"),
    [(CHAT, "chat"), (IMAGES, "images"), (CREDITS, "credits"), (USAGE, "usage")],
    ids=["chat", "images", "credits", "usage"],
)
def test_every_page_renders_for_every_role(
    env: AppEnv, role: str, page: str, url_path: str
) -> None:
    user = who(env, role)
    at = env.signed_in(user, page)
    assert_page(at, url_path)
    assert_sidebar(at, user, role)


def test_the_default_page_is_chat(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert_page(at, "chat")


def test_the_breadcrumbs_read_section_then_title() -> None:
    assert [p.breadcrumb for p in PAGES] == [
        "Work › Chat",
        "Work › Images",
        "Credits › My credits",
        "Insights › Usage analytics",
        "Admin › Credit admin",
        "Admin › Pricing & features",
    ]


def test_the_admin_page_renders_for_an_admin(env: AppEnv) -> None:
    at = env.signed_in(env.admin, ADMIN_CREDITS)
    assert_page(at, "admin_credits")
    assert_sidebar(at, env.admin, "admin")
    assert at.error == []
    assert "Recent usage" in [s.value for s in at.subheader]
    assert metrics(at) == {
        "Balance": "12,345.67",
        "Available": "12,345.67",
        "Held": "0",
    }


def test_a_members_navigation_has_no_admin_page(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert navigation_pages(at) == {"chat.py", "images.py", "credits.py", "usage.py"}
    # Not reachable through the navigation either: AppTest refuses a page it was not given.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(ADMIN_CREDITS)


def test_an_admins_navigation_includes_credit_admin(env: AppEnv) -> None:
    at = env.signed_in(env.admin)
    assert navigation_pages(at) == {
        "chat.py",
        "images.py",
        "credits.py",
        "usage.py",
        "admin_credits.py",
    }


def test_an_operators_navigation_includes_both_admin_pages(env: AppEnv) -> None:
    """An operator who is a plain member of the workspace still runs it (and prices)."""
    at = env.signed_in(env.operator)
    assert navigation_pages(at) == {
        "chat.py",
        "images.py",
        "credits.py",
        "usage.py",
        "admin_credits.py",
        "admin_pricing.py",
    }


def test_a_member_asking_for_the_admin_url_lands_on_the_default_page(env: AppEnv) -> None:
    """The admin's session asks for /admin_credits; the same request made as the member (the
    browser keeps the URL) gets the default page, without any admin content."""
    at = env.signed_in(env.admin, ADMIN_CREDITS)
    assert [t.value for t in at.title] == ["Credit admin"]
    at.session_state[SESSION_KEY] = env.sign_in_session(env.member)
    at.run()
    assert_page(at, "chat")
    assert_no_admin_content(at)
    assert ADMIN_ONLY_TEXT not in all_text(at)
    assert_sidebar(at, env.member, "member")


def test_a_role_taken_away_takes_effect_at_the_next_run(env: AppEnv) -> None:
    at = env.signed_in(env.admin, ADMIN_CREDITS)
    assert "Recent usage" in [s.value for s in at.subheader]
    with env.svc.ledger.engine.begin() as conn:
        conn.execute(
            memberships.update()
            .where(
                memberships.c.workspace_id == env.workspace.id,
                memberships.c.user_id == env.admin.id,
            )
            .values(role="member")
        )
    at.run()
    assert_no_exception(at)
    assert_no_admin_content(at)
    assert navigation_pages(at) == {"chat.py", "images.py", "credits.py", "usage.py"}
    assert "**Ada Admin** · member" in sidebar_text(at)


def test_the_admin_page_refuses_a_member_on_the_server(env: AppEnv) -> None:
    """Run the admin page's script directly with a member signed in (what would happen if the
    menu ever offered it): it stops with one error before showing anything."""
    at = AppTest.from_file(str(PAGES_DIR / "admin_credits.py"), default_timeout=30)
    signed_in = env.signed_in(env.member)
    at.session_state["who"] = signed_in.session_state["who"]
    at.run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [ADMIN_ONLY_TEXT]
    assert_no_admin_content(at)
    assert at.metric == []
    assert at.dataframe == []


def test_the_router_hands_the_pages_this_runs_person(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    stored = at.session_state["who"]
    assert stored.user.id == env.member.id
    assert stored.workspace.id == env.workspace.id
    assert not stored.is_admin
    at.session_state[SESSION_KEY] = env.sign_in_session(env.admin)
    at.run()
    assert at.session_state["who"].user.id == env.admin.id
    assert at.session_state["who"].is_admin


@pytest.mark.parametrize("role", ["member", "admin"])
def test_no_page_leaks_another_role_into_the_sidebar(env: AppEnv, role: str) -> None:
    user = who(env, role)
    at = env.signed_in(user)
    other = env.member if role == "admin" else env.admin
    assert other.display_name not in sidebar_text(at)


def test_several_workspaces_get_a_picker_that_switches_the_workspace(env: AppEnv) -> None:
    second = env.svc.ledger.create_workspace("beta", "Beta")
    env.svc.ledger.add_member(second.id, env.member.id, "admin")
    env.svc.ledger.grant(second.account_id, credits(777), kind="paid", key="beta-seed")
    at = env.signed_in(env.member)
    picker = at.sidebar.selectbox[0]
    assert picker.label == "Workspace"
    assert picker.value == env.workspace.id  # acme sorts before beta
    assert "Credits available: 12,345.67" in sidebar_text(at)
    assert "admin_credits.py" not in navigation_pages(at)

    picker.set_value(second.id).run()
    assert_no_exception(at)
    assert "Credits available: 777" in sidebar_text(at)
    assert "**Mia Member** · admin" in sidebar_text(at)
    assert "admin_credits.py" in navigation_pages(at)
