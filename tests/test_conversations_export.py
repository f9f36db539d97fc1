"""A conversation exports as a Markdown file: title, model and system prompt, each message with
who wrote it, its attachments and what each reply cost. What a person typed stays literal when
the file is rendered (checked with the CommonMark block reader the chat page uses), a reply keeps
its Markdown, and the file's name is safe ASCII ending in ``.md``."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import pytest

from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import FakeClock, seed
from tests.conversation_store_harness import NOTES, PICTURE, open_store
from workbench.chat.conversations import Conversation, Message
from workbench.chat.export import conversation_markdown, export_file_name
from workbench.chat.markdown_blocks import Blocks, Budget

WHEN = datetime(2026, 3, 10, 12, 5, tzinfo=UTC)
TYPED = "Plan *the* [offsite](http://evil.example) <b>now</b> `x` #1 \\ _y_ ![i](http://e/p.gif)"


def conversation(title: str = "Plan the offsite", **changes: object) -> Conversation:
    fields: dict[str, object] = {
        "id": 42,
        "user_id": 1,
        "workspace_id": 1,
        "title": title,
        "model": "demo/chat",
        "system_prompt": "Be brief.",
        "updated_at": WHEN,
    }
    fields.update(changes)
    return Conversation(**fields)  # type: ignore[arg-type]


KNOWN = [
    Message(1, "user", "Where shall we go?", None, None, None, attachments=(PICTURE, NOTES)),
    Message(
        2, "assistant", "Try **Lisbon**:\n\n- sun\n- food", "demo/chat", "ok", credits("0.234")
    ),
    Message(3, "user", "And `cost`?", None, None, None),
    Message(4, "assistant", "About 1", "demo/chat", "cancelled", credits(1)),
]

EXPECTED = """\
# Plan the offsite

- Model: demo/chat
- Last updated: 2026-03-10 12:05 UTC

System prompt:

```
Be brief.
```

---

**You**

```
Where shall we go?
```

Attached: cat.png (picture, 12 bytes), notes\\_100%.md (text, 31 bytes)

---

**Assistant (demo/chat)**

Try **Lisbon**:

- sun
- food

*Cost: 0.234 credits*

---

**You**

```
And `cost`?
```

---

**Assistant (demo/chat)**

About 1

*Cost: 1 credit, stopped*
"""


def roles(markdown: str) -> list[str]:
    lines = markdown.split("\n")
    return Blocks(lines, Budget(200_000 + 32 * len(markdown))).read().roles


def unescaped(text: str) -> str:
    """What CommonMark shows for inline text: a backslash before punctuation shows that
    character; fails if any markup character is left unescaped."""
    markup = re.compile(r"(?<!\\)[\\`*_\[\]<>!#]")
    bare = re.sub(r"\\[" + re.escape(string.punctuation) + "]", "", text)
    assert not markup.search(bare), text
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", text)


def test_a_known_conversation() -> None:
    assert conversation_markdown(conversation(), KNOWN) == EXPECTED


def test_typed_markdown_stays_literal() -> None:
    typed = f"{TYPED}\n```\n````python\n    indented\n~~~\n---\n# not a heading"
    exported = conversation_markdown(
        conversation(TYPED, model=None, system_prompt=typed),
        [
            Message(1, "user", typed, None, None, None, attachments=(NOTES,)),
            Message(2, "assistant", "fine", "<b>evil</b> [m](x)", None, None),
        ],
    )
    lines = exported.split("\n")
    read = roles(exported)
    heading = lines[0]
    assert heading.startswith("# ") and unescaped(heading[2:]) == TYPED
    assert "- Model: the default" in lines
    # The system prompt and the message: every typed line inside a code fence.
    typed_lines = typed.split("\n")
    starts = [i for i in range(len(lines)) if lines[i : i + len(typed_lines)] == typed_lines]
    assert len(starts) == 2
    for start in starts:
        assert set(read[start : start + len(typed_lines)]) == {"code"}
        assert read[start + len(typed_lines)] == "code"  # the closing fence
        assert read[start + len(typed_lines) + 1] == "blank"  # and nothing after it is code
    label = next(line for line in lines if line.startswith("**Assistant"))
    assert (
        unescaped(label.removeprefix("**Assistant (").removesuffix(")**")) == "<b>evil</b> [m](x)"
    )
    attached = next(line for line in lines if line.startswith("Attached: "))
    assert unescaped(attached.removeprefix("Attached: ").split(" (")[0]) == NOTES.name


def test_a_reply_leaving_a_fence_open_does_not_swallow_the_rest() -> None:
    exported = conversation_markdown(
        conversation(),
        [
            Message(1, "assistant", "Here:\n\n~~~~python\nprint(1)\n~~~", "demo/chat", "ok", 5),
            Message(2, "user", "**next**", None, None, None),
        ],
    )
    lines = exported.split("\n")
    read = roles(exported)
    assert read[lines.index("print(1)")] == "code"
    assert read[lines.index("**You**")] == "text"
    assert read[lines.index("*Cost: 0.000005 credits*")] == "text"


def test_a_reply_keeps_its_markdown() -> None:
    reply = "# Title\n\n```python\nx = 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    exported = conversation_markdown(
        conversation(), [Message(1, "assistant", reply, "demo/chat", "ok", 0)]
    )
    assert "\n\n**Assistant (demo/chat)**\n\n" + reply + "\n*Cost: 0 credits*\n" in exported
    assert "```\n```" not in exported  # a closed fence gets no extra one


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Plan the offsite", "plan-the-offsite-42.md"),
        ("Café ☕ & crème brûlée", "cafe-creme-brulee-42.md"),
        ("../../etc/passwd", "etc-passwd-42.md"),
        ('CON: a<b>|"c"?*', "con-a-b-c-42.md"),
        ("☕☕☕", "conversation-42.md"),
        ("x" * 79, "x" * 60 + "-42.md"),
    ],
)
def test_the_file_name_is_safe(title: str, expected: str) -> None:
    name = export_file_name(conversation(title))
    assert name == expected
    assert re.fullmatch(r"[a-z0-9-]+\.md", name)


def test_a_stored_conversation_exports(ledger: Ledger, clock: FakeClock) -> None:
    store = open_store(ledger, clock)
    s = seed(ledger, 0)
    made = store.create(
        s.member_id,
        s.workspace_id,
        "Plan the offsite",
        model="demo/chat",
        system_prompt="Be brief.",
    )
    for message in KNOWN:
        store.add_message(
            s.member_id,
            made.id,
            message.role,
            message.content,
            model=message.model,
            status=message.status,
            credits=message.credits,
            attachments=message.attachments,
        )
    saved = store.get(s.member_id, made.id)
    exported = conversation_markdown(saved, store.messages(s.member_id, made.id))
    when = f"{clock.now:%Y-%m-%d %H:%M}"
    assert exported == EXPECTED.replace("2026-03-10 12:05", when)
