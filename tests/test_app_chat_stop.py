"""A reply stopped while it streams: it is saved as stopped, says so with what it cost, the
conversation list and the balance are current at once, and a message sent right after continues
the same conversation.

The stop is Streamlit's own: AppTest stops a run that outlives its timeout the way a stop request
from the browser does (the run is interrupted at its next Streamlit call, and AppTest waits for
it to end). The loopback fake OpenAI server streams slowly enough (a word every half second, 400
words) that any timeout of a few seconds lands mid-reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits_text, format_credits
from tests.app_harness import (
    FAKE_CHAT_MODEL,
    AppEnv,
    app_env,
    assert_no_exception,
    sidebar_text,
)
from tests.fake_providers import FakeProvider, ok, slow_stream

FIRST = "Tell me everything about lighthouses."
SECOND = "Just the short version, please."
STOP_AFTER_S = 6.0


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def stopped_mid_reply(env: AppEnv, at: AppTest, text: str) -> AppTest:
    """Send ``text`` and stop the run while its reply streams."""
    assert env.fake is not None
    env.fake.program(slow_stream(0.5, reply_words=400))
    at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL)
    at.chat_input(key="chat_prompt").set_value(text)
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=STOP_AFTER_S)
    # The interrupted run's tree is not kept: the message must not be sent a second time.
    at.chat_input(key="chat_prompt").set_value(None)
    [hold] = env.holds()
    assert hold.status == "captured", "the stopped turn was not settled when its run ended"
    return at


def conversation_buttons(at: AppTest) -> list[tuple[str, str]]:
    return [(b.label, b.proto.type) for b in at.button if b.key and b.key.startswith("open-")]


def test_a_stopped_reply_says_so_and_what_it_cost(env: AppEnv) -> None:
    before = env.available()
    at = stopped_mid_reply(env, env.signed_in(env.member), FIRST)

    # The run after the stop (a Stop button's rerun; here the next run) shows where things are.
    at.run()
    assert_no_exception(at)
    [usage] = env.usage_rows()
    assert usage.status == "cancelled"
    assert usage.credits > 0
    assert before - env.available() == usage.credits
    assert env.held() == 0
    [(user, question), (role, partial)] = [(m.role, m.content) for m in env.messages()]
    assert (user, question, role) == ("user", FIRST, "assistant")
    assert partial.startswith("Fake reply to:") and len(partial.split()) < 400

    said = f"stopped — {credits_text(usage.credits)} charged for what was written"
    [caption] = [c.value for m in at.chat_message if m.name == "assistant" for c in m.caption]
    tokens = f"{usage.input_tokens:,} → {usage.output_tokens:,} tokens"
    assert caption.startswith(f"{said} · {tokens} · "), caption
    assert [t.value for t in at.toast] == []
    # The list shows the conversation, opened; the sidebar shows the balance after the charge.
    assert conversation_buttons(at) == [(FIRST, "primary")]
    assert f"Credits available: {format_credits(env.available())}" in sidebar_text(at)
    assert at.error == []


def test_a_message_sent_right_after_stop_continues_the_conversation(env: AppEnv) -> None:
    at = stopped_mid_reply(env, env.signed_in(env.member), FIRST)
    [conversation] = env.conversations()
    [partial] = [m.content for m in env.messages() if m.role == "assistant"]
    assert env.fake is not None
    env.fake.reset()
    env.fake.program(ok())

    at = at.chat_input(key="chat_prompt").set_value(SECOND).run()
    assert_no_exception(at)
    assert [c.id for c in env.conversations()] == [conversation.id]
    assert at.session_state["conversation_id"] == conversation.id
    assert [m.role for m in env.messages()] == ["user", "assistant", "user", "assistant"]
    # The model was sent the conversation so far, the stopped part of the reply included.
    [request] = env.api_requests()
    assert request.body["messages"] == [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": partial},
        {"role": "user", "content": SECOND},
    ]
    assert conversation_buttons(at) == [(FIRST, "primary")]
    assert [u.status for u in env.usage_rows()] == ["cancelled", "ok"]
