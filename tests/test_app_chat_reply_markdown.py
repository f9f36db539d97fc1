"""A model's reply is shown as Markdown that can load nothing: an image in it (inline, by
reference, or as raw HTML) is shown as its text, both for the reply just streamed and for replies
saved earlier, while its code, lists and emphasis stay Markdown. The loopback fake OpenAI server
echoes the start of the message into its reply, which is how a prompt-injected reply carries an
image URL here; the browser test (test_browser_chat_remote_image.py) shows no request is made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception, button
from tests.fake_providers import FakeProvider, reply_for
from workbench.chat.reply_markdown import neutralise

# The fake provider repeats the first 40 characters of the message in its reply.
INJECTED = "![](http://127.0.0.1:9/x?q=secret)"
SAVED_REPLIES = {
    "inline": "Here you go: ![chart](http://127.0.0.1:9/inline?q=secret)",
    "reference": "See ![the chart][c].\n\n[c]: http://127.0.0.1:9/reference?q=secret",
    "raw HTML": 'Done.\n\n<img src="http://127.0.0.1:9/html?q=secret">',
    "in a list": "1. First\n2. ![](http://127.0.0.1:9/list)\n   ```\n   ![kept](literally)\n   ```",
}


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def replies(at: AppTest) -> list[str]:
    return [str(m.markdown[0].value) for m in at.chat_message if m.name == "assistant"]


def assert_no_image(markdown: str) -> None:
    """Every ``![`` and ``<`` outside code is escaped (code is kept as it is)."""
    prose = markdown.split("```")[0::2]
    for part in prose:
        for i in range(len(part) - 1):
            assert part[i : i + 2] != "![", f"an image is left in {markdown!r}"
            if part[i + 1] == "<":
                assert part[i] == "\\", f"raw HTML is left in {markdown!r}"


def test_a_streamed_reply_with_an_image_shows_the_image_as_text(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL)
    at = at.chat_input(key="chat_prompt").set_value(INJECTED).run()
    assert_no_exception(at)
    expected = reply_for([{"role": "user", "content": INJECTED}])
    assert INJECTED in expected  # the fake provider did inject it
    [shown] = replies(at)
    assert shown == neutralise(expected)
    assert "!\\[](http://127.0.0.1:9/x?q=secret)" in shown
    assert_no_image(shown)
    # What was saved is the reply as written: escaping is how it is shown, not what it is.
    assert [m.content for m in env.messages() if m.role == "assistant"] == [expected]


@pytest.mark.parametrize("reply", SAVED_REPLIES.values(), ids=SAVED_REPLIES.keys())
def test_a_saved_reply_with_an_image_shows_it_as_text(env: AppEnv, reply: str) -> None:
    store = env.svc.conversations
    conversation = store.create(env.member.id, env.workspace.id, "Charts")
    store.add_message(env.member.id, conversation.id, "user", "Draw me a chart")
    store.add_message(env.member.id, conversation.id, "assistant", reply, status="ok", credits=1234)
    at = button(env.signed_in(env.member), "Charts").click().run()
    assert_no_exception(at)
    [shown] = replies(at)
    assert shown == neutralise(reply)
    assert_no_image(shown)
