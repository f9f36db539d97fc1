"""How the chat page shows a conversation: what the person typed as text, what the model wrote as
Markdown that loads nothing (``reply_markdown``), each reply's cost, tokens and time in a small
caption, the files a message carried, and a reply streaming in with its own Stop button.

Stop is a button of its own, shown only while a reply streams and inside that reply, not the chat
input's send button turning into a stop button: a double click on Send then lands on the (empty,
disabled) send button, never on Stop. Pressing Stop reruns the page, which interrupts the stream;
the reply is settled and saved as stopped while the run unwinds, and the rerun replays the
submission's key to say what it cost.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import streamlit as st

from ledger.statuses import UsageStatus
from workbench.chat.attachments import Attachment, file_size
from workbench.chat.conversations import Message
from workbench.chat.message_actions import MessageActions
from workbench.chat.reply_markdown import neutralise
from workbench.ui.messages import credits, escape_markdown

STOP_LABEL = "Stop"
# How often a streaming reply is redrawn at most: each redraw reads the whole reply again.
_REDRAW_S = 0.1
_NBSP = "\u00a0"


def typed_text(text: str) -> str:
    """Markdown that shows ``text`` as typed: every character literal (``escape_markdown``),
    each line on its own line, leading spaces kept (as no-break spaces, which Markdown does not
    read as indentation, so they never make a code block)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = []
    for line in lines:
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)].replace("\t", "    ")
        kept.append(_NBSP * len(indent) + body)
    return escape_markdown("  \n".join(kept))


def reply_caption(status: str | None, charged: int | None) -> str | None:
    """What a saved reply cost, and how it ended if it did not end normally."""
    if charged is None:
        return None
    if status == UsageStatus.CANCELLED:
        return f"stopped — {credits(charged)} charged for what was written"
    if status in (None, UsageStatus.OK):
        return credits(charged)
    if status == UsageStatus.TIMEOUT:
        return f"{credits(charged)} · timeout"
    return f"{credits(charged)} · error"


def reply_details(message: Message) -> str | None:
    """The small caption under a reply: its cost (and how it ended), tokens in and out, and how
    long it took from Enter to its last word (replies saved before these were kept show only
    their cost)."""
    caption = reply_caption(message.status, message.credits)
    if caption is None:
        return None
    parts = [caption]
    if message.input_tokens is not None and message.output_tokens is not None:
        parts.append(f"{message.input_tokens:,} → {message.output_tokens:,} tokens")
    if message.duration_ms is not None:
        parts.append(f"{message.duration_ms / 1000:.1f} s")
    return " · ".join(parts)


def show_history(history: list[Message], actions: MessageActions | None = None) -> None:
    """The conversation; with ``actions``, each message's controls under it (copy; edit and
    resend for the person's messages; regenerate for the last reply)."""
    for index, message in enumerate(history):
        if message.role == "user":
            with st.chat_message("user"):
                st.markdown(typed_text(message.content))
                show_attachments(message)
                if actions is not None:
                    actions.for_question(message, index)
            continue
        with st.chat_message("assistant"):
            st.markdown(neutralise(message.content))
            details = reply_details(message)
            if actions is not None:
                # Only a reply that ends the conversation: regenerating one followed by an
                # unanswered question would drop that question.
                actions.for_reply(history, index, details, latest=index == len(history) - 1)
            elif details:
                st.caption(details)


def show_attachments(message: Message) -> None:
    """Attached files by name (a file name is typed text) and size; not the pictures
    themselves, which would go through Streamlit's media store, open to anyone with the URL."""
    for attachment in message.attachments:
        icon = ":material/image:" if attachment.kind == "image" else ":material/description:"
        st.caption(f"{icon} {escape_markdown(attachment.name)} · {file_size(attachment.size)}")


def show_typed(text: str, attachments: tuple[Attachment, ...] = ()) -> None:
    with st.chat_message("user"):
        st.markdown(typed_text(text))
        for attachment in attachments:
            st.caption(f":material/attach_file: {escape_markdown(attachment.name)}")


def stream_reply(reply: Generator[str, None, None], stop_key: str) -> None:
    """Show ``reply`` as it arrives, redrawn from the whole text so far (a partial reply is
    read as the finished one would be), with a Stop button above it. However the run ends,
    ``reply`` is closed before this returns or raises: the turn is settled and saved now."""
    text = ""
    drawn = 0.0
    try:
        st.button(
            STOP_LABEL,
            key=stop_key,
            icon=":material/stop_circle:",
            help="Stop the reply here: you are charged for the prompt and what was written.",
        )
        shown = st.empty()
        for piece in reply:
            text += piece
            if time.monotonic() - drawn >= _REDRAW_S:
                shown.markdown(neutralise(text))
                drawn = time.monotonic()
        shown.markdown(neutralise(text))
    finally:
        reply.close()


def not_answered(message: str | None) -> str:
    return escape_markdown(message or "This message was not answered.")
