"""The small controls under each chat message: copy (any message), edit and resend (the person's),
regenerate (the last reply).

Edit and regenerate do not change the conversation themselves: they queue a submission that
*replaces* a message (``Submission.replaces``). Only once that turn has been held and sent are the
replaced message and everything after it removed (truncate, not branch), so a refused resend (no
credits, a cap) loses nothing. They run as button callbacks: the queued submission is in place
before the page's next run draws the conversation, which then stops where the resend starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from workbench.chat.attachments import Attachment
from workbench.chat.conversations import Message

# Queue a submission: the text and files to send in place of ``replaces``, which sits at
# ``position`` in the conversation (the messages before it are the history the model gets).
Resend = Callable[[str, tuple[Attachment, ...], Message, int], None]


@dataclass(frozen=True)
class MessageActions:
    resend: Resend
    # False while a reply streams or a submission waits: nothing may be resent until it is in.
    enabled: bool = True

    def for_question(self, message: Message, position: int) -> None:
        with st.container(horizontal=True, gap="small"):
            copy_control(message)
            with st.popover(
                "Edit",
                icon=":material/edit:",
                type="tertiary",
                disabled=not self.enabled,
                key=f"edit-{message.id}",
                help="Change this message and send it again: the replies after it are replaced.",
            ):
                st.text_area(
                    "Your message",
                    value=message.content,
                    key=f"edit-text-{message.id}",
                    height=120,
                    help="Sending replaces this message and everything after it. It is a new "
                    "call, charged on its own.",
                )
                st.button(
                    "Send edited message",
                    key=f"resend-{message.id}",
                    type="primary",
                    on_click=self._send_edited,
                    args=(message, position),
                )

    def for_reply(
        self, history: list[Message], position: int, details: str | None, *, latest: bool
    ) -> None:
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            copy_control(history[position])
            asked = _question_before(history, position)
            if latest and asked is not None:
                st.button(
                    "Regenerate",
                    key=f"regenerate-{history[position].id}",
                    icon=":material/refresh:",
                    type="tertiary",
                    disabled=not self.enabled,
                    help="Ask again for a new reply: a new call, charged on its own. "
                    "This reply is replaced.",
                    on_click=self.resend,
                    args=(
                        history[asked].content,
                        history[asked].attachments,
                        history[asked],
                        asked,
                    ),
                )
            if details:
                st.caption(details)

    def _send_edited(self, message: Message, position: int) -> None:
        text = str(st.session_state.get(f"edit-text-{message.id}", ""))
        if text.strip():
            self.resend(text, message.attachments, message, position)


def copy_control(message: Message) -> None:
    """Streamlit has no clipboard call: the message as a code block, whose copy button copies it
    exactly as written (a reply's Markdown source, the person's text as typed)."""
    with st.popover(
        "Copy", icon=":material/content_copy:", type="tertiary", key=f"copy-{message.id}"
    ):
        st.code(message.content, language=None, wrap_lines=True)


def _question_before(history: list[Message], position: int) -> int | None:
    """Where the person's message this reply answered sits."""
    return next((i for i in range(position - 1, -1, -1) if history[i].role == "user"), None)
