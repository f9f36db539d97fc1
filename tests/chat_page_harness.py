"""What the chat page's AppTest tests share: open the page on a model, send a message, read the
conversation as shown (each message's text, its Copy block, its caption), the sidebar's list, a
popover's contents, and what the fake provider was sent.

The tests drive the real router (``tests.app_harness``) against the loopback fake OpenAI server
over litellm; these helpers only read what AppTest already holds."""

from __future__ import annotations

import re
from typing import Any

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from tests.app_harness import FAKE_CHAT_MODEL, AppEnv

MODEL_KEY = "chat_model"
SYSTEM_KEY = "system_prompt"
PROMPT_KEY = "chat_prompt"


def chat_page(env: AppEnv, model: str = FAKE_CHAT_MODEL, system: str | None = None) -> AppTest:
    """The member's chat page (the app's first page), on ``model`` with ``system``."""
    at = env.signed_in(env.member)
    at.radio(key=MODEL_KEY).set_value(model)
    if system is not None:
        at.text_area(key=SYSTEM_KEY).set_value(system)
    return at.run()


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input(key=PROMPT_KEY).set_value(text).run()


def chat_log(at: AppTest) -> list[tuple[str, str]]:
    """Each message shown: who, and its first Markdown block (the message itself)."""
    return [(m.name, str(m.markdown[0].value)) for m in at.chat_message]


def copy_blocks(at: AppTest) -> list[tuple[str, list[str]]]:
    """Each message shown: who, and the code blocks behind its Copy control."""
    return [(m.name, [str(c.value) for c in _copy_popover(m).code]) for m in at.chat_message]


def reply_captions(at: AppTest) -> list[str]:
    return [str(c.value) for m in at.chat_message if m.name == "assistant" for c in m.caption]


def listed(at: AppTest) -> list[tuple[int, str]]:
    """The sidebar's conversation buttons, in order: (conversation id, label)."""
    return [
        (int(b.key.removeprefix("open-")), b.label)
        for b in at.sidebar.button
        if b.key and b.key.startswith("open-")
    ]


def popover(where: AppTest | Block, key: str) -> Block:
    """The popover made with ``key`` (its contents are in the tree whether open or not)."""
    found = [p for p in _popovers(where) if str(p.proto.id).endswith(f"-{key}")]
    assert len(found) == 1, f"popovers keyed {key!r}: {len(found)}"
    return found[0]


def sent(env: AppEnv, index: int = -1) -> dict[str, Any]:
    """The body of a chat request the fake provider received (the last by default)."""
    requests = env.api_requests()
    assert requests, "the fake provider received no request"
    body: dict[str, Any] = requests[index].body
    return body


def as_sent(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _copy_popover(message: Block) -> Block:
    [copy] = [p for p in _popovers(message) if re.search(r"-copy-\d+$", str(p.proto.id))]
    return copy


def _popovers(where: AppTest | Block) -> list[Block]:
    return [p for p in where.get("popover") if isinstance(p, Block)]
