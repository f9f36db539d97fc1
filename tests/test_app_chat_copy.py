"""Every chat message has a Copy control holding its exact text: the person's message as typed
(Markdown characters, line breaks and leading spaces kept, though the message is shown escaped),
the reply's Markdown source (not the text it renders to)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_harness import AppEnv, app_env, assert_no_exception
from tests.chat_page_harness import as_sent, chat_log, chat_page, copy_blocks, popover, send
from tests.fake_providers import FakeProvider, reply_for

# The fake's reply quotes the first 40 characters of the question: Markdown in the reply too.
TYPED = "**Bold** `code` [link](https://x.test)\n    indented line\n# not a heading"
FOLLOW_UP = "<b>tags</b> & _under_ \\ back"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def test_each_message_s_copy_control_holds_its_exact_text(env: AppEnv) -> None:
    at = send(send(chat_page(env), TYPED), FOLLOW_UP)
    assert_no_exception(at)
    first_reply = reply_for([as_sent("user", TYPED)])
    assert "**Bold**" in first_reply and "`code`" in first_reply  # Markdown source to copy
    saved = env.messages()
    assert [m.content for m in saved][:2] == [TYPED, first_reply]

    assert copy_blocks(at) == [(m.role, [m.content]) for m in saved]

    # Shown differently from what is copied: the person's text escaped (literal on screen),
    # so the copy is the source, not what the screen's Markdown holds.
    shown = dict(enumerate(text for _, text in chat_log(at)))
    assert shown[0] != TYPED and "\\*\\*Bold\\*\\*" in shown[0]

    # One Copy control per message, keyed by the message, without a language (plain text).
    for message in saved:
        [block] = popover(at, f"copy-{message.id}").code
        assert block.value == message.content
        assert block.language in ("", None, "plaintext")


def test_a_reopened_conversation_copies_the_same_text(env: AppEnv) -> None:
    send(chat_page(env), TYPED)
    [conversation] = env.conversations()
    at = env.signed_in(env.member)
    at.sidebar.button(key=f"open-{conversation.id}").click().run()
    assert copy_blocks(at) == [(m.role, [m.content]) for m in env.messages()]
