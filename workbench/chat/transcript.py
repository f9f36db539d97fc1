"""How the chat page shows a conversation: what the person typed as text, what the model wrote as
Markdown that loads nothing (``reply_markdown``), each reply's cost, and a reply streaming in with
its own Stop button.

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
from workbench.chat.conversations import Message
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


def show_history(history: list[Message]) -> None:
    for message in history:
        if message.role == "user":
            with st.chat_message("user"):
                st.markdown(typed_text(message.content))
            continue
        with st.chat_message("assistant"):
            st.markdown(neutralise(message.content))
            caption = reply_caption(message.status, message.credits)
            if caption:
                st.caption(caption)


def show_typed(text: str) -> None:
    with st.chat_message("user"):
        st.markdown(typed_text(text))


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
