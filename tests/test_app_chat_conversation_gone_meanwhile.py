"""A turn whose conversation (or the message it replaces) is gone by the time it is sent (deleted
in another tab between the page's read and the send, or while the submission waited in session
state) is refused in one sentence: the hold, if one was taken, is given back at once; nothing is
sent to the provider or charged; the text is offered back to copy; the page keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception, loose_code
from tests.chat_page_harness import chat_page, send
from tests.fake_providers import FakeProvider
from workbench.chat.conversations import GONE, NO_SUCH_MESSAGE, Conversations
from workbench.chat.submission import Refused, new_submission
from workbench.chat.submission import send as send_turn
from workbench.gateway.caller import Caller
from workbench.ui.messages import escape_markdown


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def caller(env: AppEnv) -> Caller:
    return Caller(env.member.id, env.workspace.id, env.account_id)


def test_a_submission_for_a_deleted_conversation_is_refused_and_the_page_goes_on(
    env: AppEnv,
) -> None:
    at = send(chat_page(env), "Hello")
    conversation_id = at.session_state["conversation_id"]
    env.svc.conversations.delete(env.member.id, conversation_id)  # another tab
    balance = env.svc.ledger.balance(env.account_id)
    requests, usage = len(env.api_requests()), env.usage_rows()

    # What a click in this tab had queued before it knew: a follow-up in that conversation.
    at.session_state["submission"] = new_submission(
        "Still there?", conversation_id, FAKE_CHAT_MODEL, None, 2, env.workspace.id
    )
    at.run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [escape_markdown(GONE)]
    assert loose_code(at) == ["Still there?"]
    assert "submission" not in at.session_state
    assert env.svc.ledger.balance(env.account_id) == balance
    assert len(env.api_requests()) == requests
    assert env.usage_rows() == usage
    assert env.svc.conversations.page(env.member.id, env.workspace.id).total == 0

    # Not stuck on it: the next message starts a new conversation and is answered.
    at.run()
    assert at.error == []
    at = send(at, "A fresh start")
    assert_no_exception(at)
    assert env.api_requests()[-1].body["messages"][-1]["content"] == "A fresh start"


def test_a_conversation_deleted_after_the_hold_gives_the_hold_back(
    env: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the history read and saving the message (the race itself): the store refuses,
    and the turn already held is released, not left to expire."""
    store = env.svc.conversations
    conversation = store.create(env.member.id, env.workspace.id, "Soon gone")
    save = Conversations.add_message

    def deleted_first(
        self: Conversations, user_id: int, conversation_id: int, *args: Any, **kw: Any
    ) -> int:
        self.delete(user_id, conversation_id)  # another tab, just before
        return save(self, user_id, conversation_id, *args, **kw)

    monkeypatch.setattr(Conversations, "add_message", deleted_first)
    balance = env.svc.ledger.balance(env.account_id)
    submission = new_submission("Still there?", conversation.id, FAKE_CHAT_MODEL, None, 0)
    outcome = send_turn(env.svc.gateway, store, caller(env), submission)
    assert isinstance(outcome, Refused)
    assert str(outcome.error) == GONE
    assert_given_back(env, balance)


def test_a_replaced_message_removed_meanwhile_gives_the_hold_back_and_keeps_the_rest(
    env: AppEnv,
) -> None:
    store = env.svc.conversations
    conversation = store.create(env.member.id, env.workspace.id, "Kept")
    first = store.add_message(env.member.id, conversation.id, "user", "First")
    store.add_message(env.member.id, conversation.id, "assistant", "Reply")
    kept = store.messages(env.member.id, conversation.id)
    balance = env.svc.ledger.balance(env.account_id)

    submission = new_submission(
        "Edited", conversation.id, FAKE_CHAT_MODEL, None, 0, replaces=first + 1000
    )
    outcome = send_turn(env.svc.gateway, store, caller(env), submission)
    assert isinstance(outcome, Refused)
    assert str(outcome.error) == NO_SUCH_MESSAGE
    assert store.messages(env.member.id, conversation.id) == kept
    assert_given_back(env, balance)


def assert_given_back(env: AppEnv, balance: object) -> None:
    [hold] = env.holds()
    assert hold.status == "released"
    assert env.svc.ledger.balance(env.account_id) == balance
    assert env.api_requests() == []
    [usage] = env.usage_rows()
    assert (usage.hold_id, usage.credits, usage.error_type) == (hold.id, 0, "NotSent")
