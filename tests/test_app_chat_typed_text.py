"""On the chat page and in the sidebar, what people typed is shown as text, never as Markdown: a
message, a conversation title (its button), a workspace's name, a display name, and an
operator's reason for switching chat off. Each is rendered escaped (backslashes before every
character Markdown would read), so the page shows exactly what was typed: no link, no image, no
emphasis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception
from tests.fake_providers import FakeProvider
from workbench.chat.conversation_sidebar import SHOWN_TITLE
from workbench.ui.messages import escape_markdown

# A phishing link and a tracking pixel, as someone might type them anywhere.
LINK = "[Sign in again](http://evil.example/login)"
PIXEL = "![x](http://evil.example/pixel.gif)"
MESSAGE = f"**Urgent**: {LINK} {PIXEL}\n    indented line\n# not a heading"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def send(at: AppTest, text: str) -> AppTest:
    at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL)
    return at.chat_input(key="chat_prompt").set_value(text).run()


def bodies(at: AppTest, role: str) -> list[str]:
    return [str(m.markdown[0].value) for m in at.chat_message if m.name == role]


def assert_literal(shown: str, typed: str) -> None:
    """``shown`` is Markdown that reads as ``typed`` and nothing else: removing the escapes (and
    what keeps its layout and breaks autolinks: no-break spaces, line breaks, word joiners)
    gives back the text, and no Markdown-special character is left unescaped."""
    unescaped = (
        shown.replace("\\", "").replace("\u00a0", " ").replace("\u2060", "").replace("  \n", "\n")
    )
    assert unescaped == typed.replace("\\", ""), shown
    for special in "[]*#<>_`":
        for i, c in enumerate(shown):
            if c == special:
                assert shown[i - 1] == "\\", f"{special!r} unescaped in {shown!r}"


def test_a_message_the_person_typed_is_shown_as_text(env: AppEnv) -> None:
    at = send(env.signed_in(env.member), MESSAGE)
    assert_no_exception(at)
    [shown] = bodies(at, "user")
    assert_literal(shown, MESSAGE)
    # Its lines stay lines, and the indented one does not become a code block.
    assert shown.count("  \n") == 2
    assert "\u00a0\u00a0\u00a0\u00a0indented line" in shown


def test_a_conversation_title_is_a_button_label_of_text(env: AppEnv) -> None:
    at = send(env.signed_in(env.member), MESSAGE)
    [conversation] = env.conversations()
    [opener] = [b for b in at.button if b.key == f"open-{conversation.id}"]
    # Cut with an ellipsis to fit the list; the whole title is its tooltip. Both literal.
    title = conversation.title
    cut = title if len(title) <= SHOWN_TITLE else title[: SHOWN_TITLE - 1].rstrip() + "…"
    assert len(title) > SHOWN_TITLE and cut.endswith("…")
    assert_literal(opener.label, cut)
    assert opener.label == escape_markdown(cut)
    assert opener.help == escape_markdown(title)


def test_a_workspace_name_and_a_display_name_are_text_in_the_sidebar(env: AppEnv) -> None:
    ledger = env.svc.ledger
    workspace = ledger.create_workspace("typed", f"Team {PIXEL}")
    person = ledger.create_user("typist", f"**Boss** {LINK}")
    ledger.add_member(workspace.id, person.id, "member")
    at = env.signed_in(person)
    assert_no_exception(at)
    captions = [str(c.value) for c in at.sidebar.caption]
    [workspace_caption] = [c for c in captions if c.startswith("Workspace: ")]
    assert_literal(workspace_caption.removeprefix("Workspace: "), f"Team {PIXEL}")
    name_line = next(str(m.value) for m in at.sidebar.markdown if "Boss" in str(m.value))
    assert_literal(name_line.removeprefix("**").split("** ·")[0], f"**Boss** {LINK}")


def test_an_operator_s_reason_for_switching_chat_off_is_text(env: AppEnv) -> None:
    env.svc.ledger.set_feature(
        "ai_text_chat", False, f"Back soon. {LINK}", actor_user_id=env.operator.id
    )
    at = env.signed_in(env.member)
    assert_no_exception(at)
    [warning] = [str(w.value) for w in at.warning]
    assert_literal(warning, f"Chat is switched off for now. Back soon. {LINK}")

    # Sending anyway is refused with the same sentence, as text.
    at = send(at, "Hello?")
    errors = [str(e.value) for e in at.error]
    assert errors and all("\\[Sign in again\\]" in e for e in errors), errors
    assert env.holds() == []
    assert env.usage_rows() and all(u.status == "refused" for u in env.usage_rows())
