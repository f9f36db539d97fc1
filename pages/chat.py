"""Chat: the conversation with its settings above it and the message box pinned below; the
person's conversations in the sidebar."""

from __future__ import annotations

import streamlit as st

from workbench.chat.answering import answer, earlier_refusal
from workbench.chat.attachments import Attachment
from workbench.chat.chat_settings import chat_settings
from workbench.chat.conversation_menu import conversation_menu, delete_confirmation, undo_notice
from workbench.chat.conversation_sidebar import conversation_sidebar
from workbench.chat.conversations import Message, NotFound
from workbench.chat.message_actions import MessageActions
from workbench.chat.message_box import message_box
from workbench.chat.model_choices import chat_choices
from workbench.chat.next_message import next_message_caption
from workbench.chat.submission import PENDING_KEY, earlier_reply_saved, new_submission, pending_in
from workbench.chat.transcript import show_history
from workbench.gateway.caller import Caller
from workbench.ui.chrome import page_header
from workbench.ui.page_registry import spec
from workbench.ui.session import services

svc = services()
who = st.session_state["who"]
caller = Caller(who.user.id, who.workspace.id, who.workspace.account_id)
store = svc.conversations
page_header(spec("chat"))

# Before reading the conversation: a reply the run just interrupted is still being saved.
if not earlier_reply_saved(st.session_state, 0):
    with st.spinner("Stopping the reply…"):
        earlier_reply_saved(st.session_state, svc.config.provider_timeout_s)
# A submission sent from another workspace waits there (see pending_in).
submission = pending_in(st.session_state, who.workspace.id)
try:
    opened = store.get(who.user.id, st.session_state["conversation_id"])
except (KeyError, TypeError, NotFound):
    opened = None
opened = opened if opened is not None and opened.workspace_id == who.workspace.id else None
selected = opened.id if opened is not None else None
conversation_sidebar(store, who.user.id, who.workspace.id, selected)
history = store.messages(who.user.id, selected) if selected is not None else []

choices = chat_choices(svc.gateway)
if not choices:
    st.warning(
        "No chat model is on offer: an operator has switched them off, or no provider has a "
        "key. Ask the workbench's operators.",
        icon=":material/block:",
    )
    st.stop()
with st.container(horizontal=True, vertical_alignment="center"):
    settings = chat_settings(store, who.user.id, opened, choices)
    if opened is not None:
        conversation_menu(store, who.user.id, opened, history)
undo_notice(store, who.user.id, who.workspace.id)
delete_confirmation(store, who.user.id, opened)


def resend(text: str, files: tuple[Attachment, ...], replaces: Message, position: int) -> None:
    st.session_state[PENDING_KEY] = new_submission(
        text,
        selected,
        settings.model,
        settings.system,
        position,
        who.workspace.id,
        attachments=files,
        replaces=replaces.id,
    )


# A submission on its way shows the conversation as it was when it was sent (an edit or a
# regenerate replaces the messages after that point).
busy = submission is not None and submission.conversation_id == selected
show_history(
    history[: submission.history_len] if busy and submission else history,
    MessageActions(resend, enabled=submission is None),
)
earlier_refusal()
if not history and submission is None:
    st.caption("Ask anything. Pick the model and a system prompt with the control above.")
next_message = st.container()  # filled below once it is known nothing was just sent

typed = message_box(settings.choice)
if typed is not None:
    text, files = typed
    submission = st.session_state[PENDING_KEY] = new_submission(
        text,
        selected,
        settings.model,
        settings.system,
        len(history),
        who.workspace.id,
        attachments=files,
    )
if submission is None:  # before typing: what the next one holds, or that it cannot be paid
    with next_message:
        next_message_caption(
            svc, who.workspace.account_id, history, settings.model, settings.system
        )
else:
    answer(svc.gateway, store, caller, submission)
