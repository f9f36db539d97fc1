"""Deleting a conversation from its menu: it asks first (naming it, as text); Cancel keeps it;
Delete hides it (a soft delete) and offers Undo for a few seconds; Undo brings it back, opened,
with its messages. The money history (holds, usage) is never touched."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, app_env, assert_no_exception, button
from tests.chat_page_harness import chat_page, copy_blocks, listed, send
from tests.fake_providers import FakeProvider
from workbench.chat.conversation_menu import UNDO_S, Deleted

TITLE = "Plan the *team* offsite"
KEPT = "Another conversation"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def two_conversations(env: AppEnv) -> tuple[AppTest, int, int]:
    """Two answered conversations (charged: holds and usage rows); the second, TITLE, open."""
    at = send(chat_page(env), KEPT)
    kept = at.session_state["conversation_id"]
    at = send(button(at, "New conversation").click().run(), TITLE)
    assert_no_exception(at)
    return at, kept, at.session_state["conversation_id"]


def confirmation(at: AppTest) -> list[str]:
    return [str(t.value) for t in at.text if str(t.value).startswith("Delete “")]


def undo_notice(at: AppTest) -> list[str]:
    return [str(t.value) for t in at.text if str(t.value).startswith("Deleted “")]


def test_delete_asks_first_and_cancel_keeps_it(env: AppEnv) -> None:
    at, _kept, doomed = two_conversations(env)
    at = button(at, "Delete conversation").click().run()
    assert_no_exception(at)
    # The title as typed, in plain text (st.text): no Markdown read into it.
    assert confirmation(at) == [f"Delete “{TITLE}”? Its messages go with it."]
    assert {b.label for b in at.button} >= {"Delete", "Cancel"}
    assert env.conversations()[-1].deleted_at is None

    at = button(at, "Cancel").click().run()
    assert_no_exception(at)
    assert confirmation(at) == []
    assert [c.deleted_at for c in env.conversations()] == [None, None]
    assert at.session_state["conversation_id"] == doomed
    assert doomed in dict(listed(at))
    assert len(copy_blocks(at)) == 2


def test_delete_hides_it_and_undo_brings_it_back_with_its_messages(env: AppEnv) -> None:
    at, kept, doomed = two_conversations(env)
    messages = env.messages()
    holds, usage, entries = env.holds(), env.usage_rows(), env.entries()
    balance = env.svc.ledger.balance(env.account_id)

    at = button(button(at, "Delete conversation").click().run(), "Delete").click().run()
    assert_no_exception(at)
    # Soft-deleted: still in the table, marked, gone from the list and from the page.
    deleted = {c.id: c.deleted_at for c in env.conversations()}
    assert deleted[doomed] is not None and deleted[kept] is None
    assert [i for i, _ in listed(at)] == [kept]
    assert at.session_state["conversation_id"] is None
    assert copy_blocks(at) == []
    assert env.messages() == messages  # kept for the Undo until the purge
    assert undo_notice(at) == [f"Deleted “{TITLE}”."]
    assert confirmation(at) == []

    at = button(at, "Undo").click().run()
    assert_no_exception(at)
    assert [c.deleted_at for c in env.conversations()] == [None, None]
    assert sorted(i for i, _ in listed(at)) == sorted([kept, doomed])
    assert at.session_state["conversation_id"] == doomed
    said = [m.content for m in messages if m.id > messages[1].id]
    assert [text for _, [text] in copy_blocks(at)] == said
    assert undo_notice(at) == []

    # The money history is the same rows, untouched, all along.
    assert (env.holds(), env.usage_rows(), env.entries()) == (holds, usage, entries)
    assert env.svc.ledger.balance(env.account_id) == balance


def test_the_undo_goes_after_its_time_and_the_conversation_stays_deleted(env: AppEnv) -> None:
    at, kept, doomed = two_conversations(env)
    at = button(button(at, "Delete conversation").click().run(), "Delete").click().run()
    assert undo_notice(at) != []
    # As if the notice had been up for longer than it lasts (no waiting in a test).
    shown: Deleted = at.session_state["deleted_conversation"]
    at.session_state["deleted_conversation"] = Deleted(
        shown.id, shown.title, time.monotonic() - UNDO_S - 1
    )
    at.run()
    assert_no_exception(at)
    assert undo_notice(at) == []
    assert "Undo" not in [b.label for b in at.button]
    assert [i for i, _ in listed(at)] == [kept]
    assert {c.id: c.deleted_at is not None for c in env.conversations()} == {
        kept: False,
        doomed: True,
    }


def test_another_session_does_not_see_the_deleted_conversation(env: AppEnv) -> None:
    at, kept, doomed = two_conversations(env)
    button(button(at, "Delete conversation").click().run(), "Delete").click().run()
    other_tab = env.signed_in(env.member)
    assert [i for i, _ in listed(other_tab)] == [kept]
    # Nor can it open it by id (a stale link, a second tab's state).
    other_tab.session_state["conversation_id"] = doomed
    other_tab.run()
    assert_no_exception(other_tab)
    assert copy_blocks(other_tab) == []


def test_an_unanswered_question_is_dropped_when_another_conversation_is_opened(
    env: AppEnv,
) -> None:
    at, kept, doomed = two_conversations(env)
    at = button(at, "Delete conversation").click().run()
    assert confirmation(at) != []
    at.sidebar.button(key=f"open-{kept}").click().run()
    assert confirmation(at) == []
    # Back on it: no question it did not ask again, and nothing was deleted.
    at.sidebar.button(key=f"open-{doomed}").click().run()
    assert_no_exception(at)
    assert confirmation(at) == []
    assert "Delete" not in [b.label for b in at.button]
    assert [c.deleted_at for c in env.conversations()] == [None, None]
    # Nor after New conversation and back.
    at = button(at, "Delete conversation").click().run()
    at = button(at, "New conversation").click().run()
    at.sidebar.button(key=f"open-{doomed}").click().run()
    assert confirmation(at) == []
