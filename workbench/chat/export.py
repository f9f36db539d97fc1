"""A conversation as a Markdown file to download: its title, model and system prompt, then each
message in order with who wrote it, what was attached and what each reply cost.

What a person typed (the title, their messages, the system prompt, file names) reads literally
wherever the file is rendered: their messages and the system prompt sit in code fences longer
than any run of backticks inside them, and names have Markdown's inline characters
backslash-escaped. Replies are the model's Markdown as written; one that leaves a code fence open
gets it closed, so the rest of the file is not swallowed into its code block.
"""

from __future__ import annotations

import re
import unicodedata

from ledger.amounts import credits_text
from ledger.statuses import UsageStatus
from workbench.chat.attachments import Attachment, file_size
from workbench.chat.conversations import Conversation, Message

# What CommonMark reads as markup inside a line (a heading's text, a label, a list item).
_INLINE = re.compile(r"([\\`*_\[\]<>!&#|~$])")
_BACKTICKS = re.compile(r"`+")
# A fence opening or closing at the top level of a reply (up to three spaces of indent).
_OPENING = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
SLUG_LIMIT = 60
RULE = "\n---\n\n"
# How a reply that did not end normally ended (its status), beside its cost.
ENDINGS: dict[str, str] = {
    UsageStatus.CANCELLED: "stopped",
    UsageStatus.ERROR: "error",
    UsageStatus.TIMEOUT: "timeout",
}


def conversation_markdown(conversation: Conversation, messages: list[Message]) -> str:
    """The whole conversation as one Markdown document."""
    parts = [_header(conversation), *(_message(message) for message in messages)]
    return RULE.join(parts)


def export_file_name(conversation: Conversation) -> str:
    """A file name safe on any system: the title in lower-case ASCII letters and digits joined by
    hyphens (accents dropped, anything else gone), then the conversation's id, then ``.md``."""
    ascii_title = unicodedata.normalize("NFKD", conversation.title).encode("ascii", "ignore")
    slug = _NOT_SLUG.sub("-", ascii_title.decode().lower()).strip("-")
    slug = slug[:SLUG_LIMIT].rstrip("-") or "conversation"
    return f"{slug}-{conversation.id}.md"


def literal(text: str) -> str:
    """``text`` as literal characters on one line of Markdown (a heading, a label)."""
    return _INLINE.sub(r"\\\1", " ".join(text.splitlines()))


def fenced(text: str) -> str:
    """``text`` in a code fence it cannot close: every character shows as typed."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{body}\n{fence}\n"


def _header(conversation: Conversation) -> str:
    lines = [
        f"# {literal(conversation.title)}\n",
        f"- Model: {literal(conversation.model) if conversation.model else 'the default'}",
        f"- Last updated: {conversation.updated_at:%Y-%m-%d %H:%M} UTC\n",
    ]
    if conversation.system_prompt:
        lines += ["System prompt:\n", fenced(conversation.system_prompt)]
    return "\n".join(lines)


def _message(message: Message) -> str:
    if message.role == "user":
        parts = ["**You**\n", fenced(message.content)]
    else:
        label = f"**Assistant ({literal(message.model)})**" if message.model else "**Assistant**"
        parts = [f"{label}\n", _reply(message.content)]
    if message.attachments:
        parts.append("Attached: " + ", ".join(_attachment(a) for a in message.attachments) + "\n")
    if message.credits is not None:
        ending = ENDINGS.get(message.status or "")
        cost = credits_text(message.credits) + (f", {ending}" if ending else "")
        parts.append(f"*Cost: {cost}*\n")
    return "\n".join(parts)


def _reply(content: str) -> str:
    body = content.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not body.strip():
        return "*(no text)*\n"
    still_open = _open_fence(body)
    return f"{body}\n" + (f"{still_open}\n" if still_open else "")


def _open_fence(text: str) -> str | None:
    """The fence that closes a code block ``text`` leaves open, if it does (top-level fences
    only: one in a list or a quote ends with its container)."""
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            opening = _OPENING.fullmatch(line)
            if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
                fence = opening.group(1)
        else:
            closing = _CLOSING.fullmatch(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = None
    return fence


def _attachment(attachment: Attachment) -> str:
    kind = "picture" if attachment.kind == "image" else "text"
    return f"{literal(attachment.name)} ({kind}, {file_size(attachment.size)})"
