"""Local sign-in on the Streamlit side: a tab without a live sign-in session sees only a way to
the sign-in form; a live one opens Chat; signing out revokes the session, and a session revoked
elsewhere, past its time or of a deactivated user signs the tab out at its next run. (The form
itself is the app's own HTTP page: tests/test_web_sign_in.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import (
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    button,
    sidebar_text,
)
from workbench.chat.submission import new_submission
from workbench.db.schema import web_sessions
from workbench.ui.session import SESSION_KEY

SIGNED_OUT = "You are signed out: your session ended or you signed out in another tab."


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def assert_signed_out(at: AppTest) -> None:
    assert [t.value for t in at.title] == ["Sign in to the workbench"]
    assert [i.value for i in at.info] == [SIGNED_OUT]
    [link] = at.get("link_button")
    assert link.proto.label == "Sign in"
    assert link.proto.url.startswith("/auth/sign-in?next=/")
    assert at.text_input == [] and at.button == []
    assert sidebar_text(at) == ""
    assert SESSION_KEY not in at.session_state
    assert "who" not in at.session_state or at.session_state["who"] is None


def test_a_new_tab_without_a_session_sees_only_the_way_to_sign_in(env: AppEnv) -> None:
    at = env.app().run()
    assert_no_exception(at)
    assert_signed_out(at)
    assert at.error == []
    assert "Chat" not in all_text(at)


def test_a_made_up_session_id_is_not_a_sign_in(env: AppEnv) -> None:
    at = env.app()
    at.session_state[SESSION_KEY] = 10_000
    at.run()
    assert_signed_out(at)


def test_a_live_session_opens_chat_and_sign_out_revokes_it(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert_no_exception(at)
    session_id = at.session_state[SESSION_KEY]
    assert [t.value for t in at.title] == ["Chat"]
    assert "Mia Member" in sidebar_text(at)

    at = button(at, "Sign out").click().run()
    assert_no_exception(at)
    assert_signed_out(at)
    assert env.svc.web_sessions.check(session_id) is None  # gone for every tab, not just this

    # The next run stays signed out (nothing was left behind to sign in again).
    at.run()
    assert_signed_out(at)


def test_a_session_revoked_elsewhere_signs_this_tab_out_at_its_next_run(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert [t.value for t in at.title] == ["Chat"]
    env.svc.web_sessions.revoke(at.session_state[SESSION_KEY])
    at.run()
    assert_no_exception(at)
    assert_signed_out(at)


def test_deactivating_a_user_ends_their_session(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert [t.value for t in at.title] == ["Chat"]
    env.svc.ledger.set_user_active(
        env.member.id, False, actor_user_id=env.admin.id, reason="left the company"
    )
    at.run()
    assert_signed_out(at)


@pytest.mark.parametrize(
    ("idle", "age"),
    [(timedelta(hours=12, minutes=1), timedelta(hours=13)), (timedelta(0), timedelta(days=7.01))],
    ids=["idle-past-12-hours", "older-than-7-days"],
)
def test_a_session_idle_too_long_or_past_its_lifetime_is_over(
    env: AppEnv, idle: timedelta, age: timedelta
) -> None:
    at = env.signed_in(env.member)
    assert [t.value for t in at.title] == ["Chat"]
    now = datetime.now(UTC)
    with env.svc.ledger.engine.begin() as conn:
        conn.execute(
            web_sessions.update()
            .where(web_sessions.c.id == at.session_state[SESSION_KEY])
            .values(created_at=now - age, last_seen_at=now - idle)
        )
    at.run()
    assert_signed_out(at)


def test_a_user_in_no_workspace_is_told_so_and_sees_no_page(env: AppEnv) -> None:
    loner = env.svc.ledger.create_user("lonely", "Lonely")
    at = env.signed_in(loner)
    assert_no_exception(at)
    assert [w.value for w in at.warning] == [
        "You are signed in as lonely, but not a member of any workspace yet."
    ]
    assert at.title == []
    assert sidebar_text(at) == ""


def test_signing_out_leaves_nothing_of_the_person_for_the_next_one(env: AppEnv) -> None:
    """Sign out while a reply is pending (a click on Sign out interrupts the streaming run and
    leaves the submission in session state), then someone else signs in on the same tab: they
    must not see the first person's message, nor be charged for it."""
    at = env.signed_in(env.member)
    private = "My salary review notes: please keep this between us."
    at.session_state["submission"] = new_submission(private, None, "demo/chat", None, 0)
    at = button(at, "Sign out").click().run()
    assert_signed_out(at)

    at.session_state[SESSION_KEY] = env.sign_in_session(env.other)
    at.run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Chat"]
    assert private not in all_text(at)
    assert env.holds() == []
    assert env.conversations() == []
    assert "submission" not in at.session_state
