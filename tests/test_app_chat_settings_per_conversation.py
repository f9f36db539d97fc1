"""The chat settings (model and system prompt) belong to a conversation: opening one loads its
own into the picker, a change while it is open is saved on it (and on no other), and the next
request is sent with what the picker shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception, button
from tests.chat_page_harness import MODEL_KEY, SYSTEM_KEY, as_sent, chat_page, send, sent
from tests.fake_providers import FakeProvider

OTHER_MODEL = "openai/gpt-4o"
PROMPT_A = "Answer in one sentence, in British English."
PROMPT_B = "Answer as a pirate would."
QUESTION_A = "Why is the sky blue?"
QUESTION_B = "How do tides work?"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def open_conversation(at: AppTest, conversation_id: int) -> AppTest:
    at.sidebar.button(key=f"open-{conversation_id}").click().run()
    assert_no_exception(at)
    assert at.session_state["conversation_id"] == conversation_id
    return at


def picker(at: AppTest) -> tuple[object, object]:
    return at.radio(key=MODEL_KEY).value, at.text_area(key=SYSTEM_KEY).value


def two_conversations(env: AppEnv) -> tuple[AppTest, int, int]:
    """A: GPT-4o mini with a system prompt; B: GPT-4o without one. B is open."""
    at = send(chat_page(env, FAKE_CHAT_MODEL, PROMPT_A), QUESTION_A)
    a = at.session_state["conversation_id"]
    at = button(at, "New conversation").click().run()
    at.radio(key=MODEL_KEY).set_value(OTHER_MODEL)
    at.text_area(key=SYSTEM_KEY).set_value("")
    at = send(at, QUESTION_B)
    b = at.session_state["conversation_id"]
    assert a != b
    return at, a, b


def test_each_conversation_keeps_its_own_model_and_system_prompt(env: AppEnv) -> None:
    at, a, b = two_conversations(env)
    store = env.svc.conversations
    kept_a, kept_b = store.get(env.member.id, a), store.get(env.member.id, b)
    assert (kept_a.model, kept_a.system_prompt) == (FAKE_CHAT_MODEL, PROMPT_A)
    assert (kept_b.model, kept_b.system_prompt) == (OTHER_MODEL, None)
    # Each first request went out with its conversation's settings.
    assert sent(env, 0)["model"] == "gpt-4o-mini"
    assert sent(env, 0)["messages"] == [as_sent("system", PROMPT_A), as_sent("user", QUESTION_A)]
    assert sent(env, 1)["model"] == "gpt-4o"
    assert sent(env, 1)["messages"] == [as_sent("user", QUESTION_B)]

    # Switching between them loads each one's settings into the picker.
    assert picker(open_conversation(at, a)) == (FAKE_CHAT_MODEL, PROMPT_A)
    assert picker(open_conversation(at, b)) == (OTHER_MODEL, "")
    assert picker(open_conversation(at, a)) == (FAKE_CHAT_MODEL, PROMPT_A)

    # A fresh session (another tab) opening A gets A's settings too, not the picker's default.
    fresh = env.signed_in(env.member)
    assert picker(fresh) == ("demo/chat", "")
    assert picker(open_conversation(fresh, a)) == (FAKE_CHAT_MODEL, PROMPT_A)
    assert picker(open_conversation(fresh, b)) == (OTHER_MODEL, "")


def test_a_change_while_a_conversation_is_open_is_saved_on_it_and_used_next(
    env: AppEnv,
) -> None:
    at, a, b = two_conversations(env)
    at = open_conversation(at, a)
    before = env.conversations()
    at.radio(key=MODEL_KEY).set_value(OTHER_MODEL).run()
    assert_no_exception(at)

    store = env.svc.conversations
    kept_a = store.get(env.member.id, a)
    assert (kept_a.model, kept_a.system_prompt) == (OTHER_MODEL, PROMPT_A)
    kept_b = store.get(env.member.id, b)
    assert (kept_b.model, kept_b.system_prompt) == (OTHER_MODEL, None)
    # A setting does not reorder the list: A's updated_at stands.
    assert [c.updated_at for c in env.conversations()] == [c.updated_at for c in before]

    # The next message in A goes to the newly chosen model, with A's system prompt and history.
    reply_a = [m.content for m in store.messages(env.member.id, a) if m.role == "assistant"]
    at = send(at, "And at sunset?")
    assert_no_exception(at)
    body = sent(env)
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [
        as_sent("system", PROMPT_A),
        as_sent("user", QUESTION_A),
        as_sent("assistant", reply_a[0]),
        as_sent("user", "And at sunset?"),
    ]
    assert (env.usage_rows()[-1].model, env.usage_rows()[-1].status) == (OTHER_MODEL, "ok")

    # The system prompt too: changed while A is open, kept on A and sent with A's next message.
    at.text_area(key=SYSTEM_KEY).set_value(PROMPT_B).run()
    assert store.get(env.member.id, a).system_prompt == PROMPT_B
    assert store.get(env.member.id, b).system_prompt is None
    at = send(at, "Thanks.")
    assert sent(env)["messages"][0] == as_sent("system", PROMPT_B)

    # Clearing it clears it on A: the next request has no system message.
    at.text_area(key=SYSTEM_KEY).set_value("   ").run()
    assert store.get(env.member.id, a).system_prompt is None
    at = send(at, "Bye.")
    assert "system" not in {m["role"] for m in sent(env)["messages"]}
    assert sent(env)["messages"][-1] == as_sent("user", "Bye.")

    # B, opened again, still has its own.
    assert picker(open_conversation(at, b)) == (OTHER_MODEL, "")
