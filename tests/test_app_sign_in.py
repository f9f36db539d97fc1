"""Local sign-in through the real form: a wrong password is refused with one plain sentence and
nothing else; the right one lands on Chat; signing out returns to the form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import (
    MEMBER_PASSWORD,
    OTHER_PASSWORD,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    button,
    sidebar_text,
)
from workbench.chat.submission import new_submission
from workbench.ui.session import USER_KEY

WRONG = "That username and password do not match."


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.form_submit_button[0].click().run()


def assert_sign_in_form(at: AppTest) -> None:
    assert [t.value for t in at.title] == ["Sign in to the workbench"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.form_submit_button] == ["Sign in"]


def test_a_new_session_sees_only_the_sign_in_form(env: AppEnv) -> None:
    at = env.app().run()
    assert_no_exception(at)
    assert_sign_in_form(at)
    assert at.error == []
    assert sidebar_text(at) == ""
    assert "Chat" not in all_text(at)
    assert USER_KEY not in at.session_state


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("mia", "not-the-password"),  # a known user, the wrong password
        ("nobody", MEMBER_PASSWORD),  # an unknown user
        ("mia", ""),  # nothing typed
    ],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
def test_a_wrong_password_is_refused_with_one_plain_sentence(
    env: AppEnv, username: str, password: str
) -> None:
    at = submit(env.app().run(), username, password)
    assert_no_exception(at)
    assert [e.value for e in at.error] == [WRONG]
    assert USER_KEY not in at.session_state
    assert "who" not in at.session_state
    # Nothing else: still the form, no page, no sidebar, no hint which part was wrong.
    assert_sign_in_form(at)
    assert sidebar_text(at) == ""
    shown = all_text(at)
    for leak in ("Chat", "Credits available", "Sign out", "unknown", "Mia Member"):
        assert leak not in shown


def test_the_right_password_opens_chat_and_sign_out_returns_to_the_form(env: AppEnv) -> None:
    at = submit(env.app().run(), "mia", MEMBER_PASSWORD)
    assert_no_exception(at)
    assert at.error == []
    assert at.session_state[USER_KEY] == env.member.id
    assert [t.value for t in at.title] == ["Chat"]
    assert "Work › Chat" in [c.value for c in at.caption]
    assert "**Mia Member** · member" in sidebar_text(at)

    at = button(at, "Sign out").click().run()
    assert_no_exception(at)
    assert_sign_in_form(at)
    assert USER_KEY not in at.session_state
    assert sidebar_text(at) == ""
    assert at.error == []

    # The next run stays signed out (nothing was left behind to sign in again).
    at.run()
    assert_sign_in_form(at)


def test_surrounding_spaces_in_the_username_are_ignored(env: AppEnv) -> None:
    at = submit(env.app().run(), "  mia ", MEMBER_PASSWORD)
    assert at.error == []
    assert at.session_state[USER_KEY] == env.member.id


def test_a_wrong_attempt_then_the_right_one_signs_in(env: AppEnv) -> None:
    at = submit(env.app().run(), "mia", "wrong-password-xx")
    assert [e.value for e in at.error] == [WRONG]
    at = submit(at, "mia", MEMBER_PASSWORD)
    assert at.error == []
    assert [t.value for t in at.title] == ["Chat"]


def test_a_user_in_no_workspace_is_told_so_and_sees_no_page(env: AppEnv) -> None:
    loner = env.svc.ledger.create_user("lonely", "Lonely")
    env.svc.logins.set_password(loner.id, "lonely-password-01")
    at = submit(env.app().run(), "lonely", "lonely-password-01")
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
    assert_sign_in_form(at)

    at = submit(at, "otto", OTHER_PASSWORD)
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Chat"]
    assert private not in all_text(at)
    assert env.holds() == []
    assert env.conversations() == []
    assert "submission" not in at.session_state
