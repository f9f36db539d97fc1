"""A chat turn through the app: the gateway calls the loopback fake OpenAI server over HTTP (via
litellm), the reply is shown and saved, the balance falls by exactly what was captured, and the
conversation is listed, renamed and deleted, by its owner only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits, credits_text, format_credits
from tests.app_harness import (
    CHAT,
    FAKE_CHAT_MODEL,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    button,
    sidebar_text,
)
from tests.fake_providers import FakeProvider, reply_for
from workbench.chat.conversations import NotFound
from workbench.gateway.facade import HOLD_HEADER

QUESTION = "What is the capital of France, briefly?"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def send(at: AppTest, text: str, model: str = FAKE_CHAT_MODEL) -> AppTest:
    at.radio(key="chat_model").set_value(model)
    return at.chat_input(key="chat_prompt").set_value(text).run()


def chat_log(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, " ".join(str(x.value) for x in m.markdown)) for m in at.chat_message]


def conversation_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.key and b.key.startswith("open-")]


def test_the_model_picker_offers_the_configured_provider(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    options = at.radio(key="chat_model").options
    assert "GPT-4o mini" in options
    assert "Demo chat (offline)" in options
    # No Anthropic key configured: its models are not offered.
    assert not any("Claude" in option for option in options)


def test_a_chat_turn_shows_the_reply_and_charges_exactly_the_capture(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    before = env.available()

    at = send(at, QUESTION)
    assert_no_exception(at)
    assert at.error == []

    expected = reply_for([{"role": "user", "content": QUESTION}])
    assert chat_log(at) == [("user", QUESTION), ("assistant", expected)]

    # One request to the fake provider, for that model, tagged with its hold.
    requests = env.api_requests()
    assert len(requests) == 1
    assert requests[0].path == "/v1/chat/completions"
    assert requests[0].body["model"] == "gpt-4o-mini"
    assert requests[0].body["messages"][-1] == {"role": "user", "content": QUESTION}

    # One hold, captured; one usage row saying what it cost; the balance fell by exactly that.
    [hold] = env.holds()
    [usage] = env.usage_rows()
    assert requests[0].headers[HOLD_HEADER.lower()] == str(hold.id)
    assert hold.status == "captured"
    assert usage.hold_id == hold.id
    assert usage.status == "ok"
    assert usage.model == FAKE_CHAT_MODEL
    assert usage.user_id == env.member.id
    assert usage.credits == hold.captured
    assert usage.credits > 0
    assert before - env.available() == usage.credits
    assert env.held() == 0

    # The page says what it cost, with the decimals that matter (a short question costs a
    # fraction of a credit), and the sidebar shows the new balance.
    assert usage.credits < credits(1)
    cost = credits_text(usage.credits)
    assert re.fullmatch(r"0\.\d+ credits", cost), cost
    assert f"Credits available: {format_credits(env.available())}" in sidebar_text(at)
    # In the reply's own caption (cost, tokens in → out, time), not a toast after every turn.
    assert [t.value for t in at.toast] == []
    [caption] = [c.value for m in at.chat_message if m.name == "assistant" for c in m.caption]
    tokens = f"{usage.input_tokens:,} → {usage.output_tokens:,} tokens"
    assert re.fullmatch(re.escape(f"{cost} · {tokens} · ") + r"\d+\.\d s", caption), caption

    # The reply is saved with its hold, status and cost.
    [conversation] = env.conversations()
    saved = [(m.role, m.content, m.hold_id, m.status, m.credits) for m in env.messages()]
    assert saved == [
        ("user", QUESTION, None, None, None),
        ("assistant", expected, hold.id, "ok", usage.credits),
    ]
    assert conversation.user_id == env.member.id
    assert conversation.workspace_id == env.workspace.id


def test_the_conversation_appears_in_the_list_and_is_continued(env: AppEnv) -> None:
    at = send(env.signed_in(env.member), QUESTION)
    [conversation] = env.conversations()
    assert conversation.title == QUESTION
    assert conversation_buttons(at) == [QUESTION]
    assert at.session_state["conversation_id"] == conversation.id

    # A second message goes to the same conversation, with the history sent along.
    at = send(at, "And of Italy?")
    assert_no_exception(at)
    assert len(env.conversations()) == 1
    assert [m.role for m in env.messages()] == ["user", "assistant", "user", "assistant"]
    last = env.api_requests()[-1].body["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user"]
    assert last[-1]["content"] == "And of Italy?"

    # A fresh session (same person) lists it too, and opening it shows the history.
    again = env.signed_in(env.member, CHAT)
    assert conversation_buttons(again) == [QUESTION]
    assert chat_log(again) == []
    again = button(again, QUESTION).click().run()
    assert [name for name, _ in chat_log(again)] == ["user", "assistant", "user", "assistant"]


def test_new_conversation_starts_empty(env: AppEnv) -> None:
    at = send(env.signed_in(env.member), QUESTION)
    at = button(at, "New conversation").click().run()
    assert chat_log(at) == []
    assert at.session_state["conversation_id"] is None
    at = send(at, "A different topic")
    assert len(env.conversations()) == 2
    assert sorted(conversation_buttons(at)) == sorted([QUESTION, "A different topic"])


def test_rename_and_delete(env: AppEnv) -> None:
    at = send(env.signed_in(env.member), QUESTION)
    [conversation] = env.conversations()

    at.text_input(key=f"title-{conversation.id}").set_value("  Capitals   of Europe ")
    at = button(at, "Rename").click().run()
    assert_no_exception(at)
    assert env.conversations()[0].title == "Capitals of Europe"
    assert conversation_buttons(at) == ["Capitals of Europe"]
    assert "Conversation renamed." in [t.value for t in at.toast]

    # Delete asks first; confirmed, the conversation goes (kept a few minutes for Undo).
    at = button(at, "Delete conversation").click().run()
    assert_no_exception(at)
    assert conversation_buttons(at) == ["Capitals of Europe"]
    at = button(at, "Delete").click().run()
    assert_no_exception(at)
    assert [c.deleted_at is not None for c in env.conversations()] == [True]
    assert env.svc.conversations.page(env.member.id, env.workspace.id).total == 0
    assert conversation_buttons(at) == []
    assert chat_log(at) == []
    # The money history is untouched by deleting the conversation.
    assert len(env.holds()) == 1
    assert len(env.usage_rows()) == 1


def test_conversations_are_scoped_to_their_owner(env: AppEnv) -> None:
    send(env.signed_in(env.member), QUESTION)
    [conversation] = env.conversations()

    # Another member of the same workspace: not listed, and not openable by id.
    other = env.signed_in(env.other)
    assert conversation_buttons(other) == []
    other.session_state["conversation_id"] = conversation.id
    other.run()
    assert_no_exception(other)
    assert chat_log(other) == []
    assert QUESTION not in all_text(other)
    assert [e.label for e in other.expander] == []

    # Nor can an admin of the workspace read, rename or delete someone's conversation.
    admin = env.signed_in(env.admin)
    assert conversation_buttons(admin) == []

    store = env.svc.conversations
    for intruder in (env.other, env.admin):
        with pytest.raises(NotFound):
            store.messages(intruder.id, conversation.id)
        with pytest.raises(NotFound):
            store.rename(intruder.id, conversation.id, "mine now")
        with pytest.raises(NotFound):
            store.delete(intruder.id, conversation.id)
    assert env.conversations()[0].title == QUESTION
    assert len(env.messages()) == 2


def test_the_demo_model_needs_no_provider(env: AppEnv) -> None:
    at = send(env.signed_in(env.member), "Hello demo", model="demo/chat")
    assert_no_exception(at)
    assert env.api_requests() == []
    [(_, _), (role, reply)] = chat_log(at)
    assert role == "assistant"
    assert reply
    [usage] = env.usage_rows()
    assert usage.model == "demo/chat"
    assert usage.status == "ok"
