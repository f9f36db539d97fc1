"""A submission is charged once however many runs see it.

The chat page keeps the pending ``Submission`` (text, idempotency key, conversation) in session
state until it is answered, so a rerun that interrupts the run answering it repeats the same
request with the same key. These tests run the page again with the same submission in session
state (as such an interrupted run leaves it) and check: one hold, one charge, one provider
request, and no false "not sent" message."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception, loose_code
from tests.fake_providers import FakeProvider
from workbench.chat.submission import Submission, as_messages, new_submission, stream_and_save
from workbench.gateway.caller import Caller

FIRST = "Tell me about lighthouses."
SECOND = "And about their keepers?"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def chat_page(env: AppEnv) -> AppTest:
    at = env.signed_in(env.member)
    at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL)
    return at.run()


def run_with(at: AppTest, submission: Submission) -> AppTest:
    at.session_state["submission"] = submission
    return at.run()


def assert_charged_once(env: AppEnv, before: int, turns: int = 1) -> None:
    holds = env.holds()
    assert len(holds) == turns, f"{len(holds)} holds for {turns} turn(s)"
    assert all(h.status == "captured" for h in holds)
    assert len(env.api_requests()) == turns
    usage = env.usage_rows()
    assert len(usage) == turns
    assert before - env.available() == sum(u.credits for u in usage)
    assert env.held() == 0


def assert_no_false_alarm(at: AppTest) -> None:
    """The message was answered: the page must not say it was not sent, or ask to resend."""
    assert_no_exception(at)
    assert [e.value for e in at.error] == []
    assert loose_code(at) == []


def test_running_again_after_a_submission_charges_nothing_more(env: AppEnv) -> None:
    before = env.available()
    at = chat_page(env)
    at.chat_input(key="chat_prompt").set_value(FIRST).run()
    assert "submission" not in at.session_state
    at.run()
    at.run()
    assert_charged_once(env, before)
    assert_no_false_alarm(at)
    assert [m.role for m in env.messages()] == ["user", "assistant"]


def test_the_same_new_conversation_submission_twice_charges_once(env: AppEnv) -> None:
    before = env.available()
    at = chat_page(env)
    submission = new_submission(FIRST, None, FAKE_CHAT_MODEL, None, 0)
    run_with(at, submission)
    assert_charged_once(env, before)

    # The rerun an interruption would cause: the very same submission object again.
    at = run_with(at, submission)
    assert_charged_once(env, before)
    assert len(env.conversations()) == 1
    assert [m.role for m in env.messages()] == ["user", "assistant"]


def test_the_same_follow_up_submission_twice_charges_once(env: AppEnv) -> None:
    before = env.available()
    at = chat_page(env)
    at.chat_input(key="chat_prompt").set_value(FIRST).run()
    conversation_id = at.session_state["conversation_id"]

    submission = new_submission(SECOND, conversation_id, FAKE_CHAT_MODEL, None, 2)
    run_with(at, submission)
    assert_charged_once(env, before, turns=2)
    run_with(at, submission)
    assert_charged_once(env, before, turns=2)
    assert [m.role for m in env.messages()] == ["user", "assistant", "user", "assistant"]


def test_a_rerun_of_an_answered_submission_does_not_claim_it_was_not_sent(env: AppEnv) -> None:
    """Same as above, looking at what the person is told on the rerun: their message was
    answered (and charged), so no "not sent / send it again" error and no copy box."""
    at = chat_page(env)
    at.chat_input(key="chat_prompt").set_value(FIRST).run()
    submission = new_submission(
        SECOND, at.session_state["conversation_id"], FAKE_CHAT_MODEL, None, 2
    )
    run_with(at, submission)
    at = run_with(at, submission)
    assert_no_false_alarm(at)


def test_a_rerun_after_a_stream_cut_off_by_a_rerun_charges_once(env: AppEnv) -> None:
    """What an interrupted run leaves: the follow-up's hold reserved, its user message saved,
    part of the reply streamed and saved as cancelled (the page's ``finally``), and the
    submission (with its conversation) still in session state. The rerun must neither call
    the provider again nor charge again, nor tell the person the message was not sent."""
    at = chat_page(env)
    at.chat_input(key="chat_prompt").set_value(FIRST).run()
    conversation_id = at.session_state["conversation_id"]
    before = env.available()
    assert env.fake is not None
    env.fake.reset()

    store = env.svc.conversations
    submission = new_submission(SECOND, conversation_id, FAKE_CHAT_MODEL, None, 2)
    history = store.messages(env.member.id, conversation_id)
    caller = Caller(env.member.id, env.workspace.id, env.account_id)
    turn = env.svc.gateway.chat(
        caller, as_messages(history, SECOND), key=submission.key, model=FAKE_CHAT_MODEL
    )
    store.add_message(env.member.id, conversation_id, "user", SECOND)
    reply = stream_and_save(turn, store, env.member.id, conversation_id)
    assert isinstance(reply, Generator)
    next(reply)
    reply.close()  # the rerun's exception unwinding st.write_stream
    cut = env.holds()[-1]
    assert cut.status == "captured"
    charged = before - env.available()
    assert len(env.api_requests()) == 1

    at = run_with(at, submission)
    assert len(env.holds()) == 2  # the first turn's and this one's
    assert len(env.api_requests()) == 1
    assert before - env.available() == charged
    assert_no_false_alarm(at)


def test_a_rerun_keeps_the_pending_submission_s_conversation(env: AppEnv) -> None:
    """The page replaces the pending submission with one naming the conversation it created,
    so a rerun in the middle does not start a second conversation."""
    at = chat_page(env)
    submission = new_submission(FIRST, None, FAKE_CHAT_MODEL, None, 0)
    run_with(at, submission)
    [conversation] = env.conversations()
    run_with(at, replace(submission, conversation_id=conversation.id))
    assert len(env.conversations()) == 1


def test_a_message_released_unsent_by_an_interrupted_run_is_not_lost_silently(
    env: AppEnv,
) -> None:
    """An interrupted run reserved the turn and ended before streaming it: the turn was
    released as never sent ("not sent: nothing charged"). On the rerun, the person must
    either get a reply or be told the message was not sent (with it to copy); never a
    conversation holding nothing and no word about it."""
    at = chat_page(env)
    submission = new_submission(FIRST, None, FAKE_CHAT_MODEL, None, 0)
    caller = Caller(env.member.id, env.workspace.id, env.account_id)
    turn = env.svc.gateway.chat(
        caller, as_messages([], FIRST), key=submission.key, model=FAKE_CHAT_MODEL
    )
    turn.close()  # never streamed: released
    [hold] = env.holds()
    assert hold.status == "released"
    before = env.available()

    at = run_with(at, submission)
    assert_no_exception(at)
    # Whatever the page does, the money stays right: at most one request, charged as recorded.
    assert len(env.api_requests()) <= 1
    assert before - env.available() == sum(u.credits for u in env.usage_rows())
    replied = [m for m in env.messages() if m.role == "assistant"]
    told = loose_code(at) == [FIRST] and len(at.error) == 1
    assert replied or told, (
        f"the message vanished: messages {[(m.role, m.content) for m in env.messages()]}, "
        f"errors {[e.value for e in at.error]}, conversations {len(env.conversations())}"
    )
