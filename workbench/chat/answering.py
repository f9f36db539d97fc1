"""The chat page answering its pending submission: send it (reserve, then call), stream the reply
under a Stop button, or say why there is none; every way out ends the run with a rerun or a stop.

A click while this runs (Stop, a new message, another workspace) starts the session's next run
at once, in another thread, while this one is interrupted at its next Streamlit call (Streamlit's
fast reruns). So from before the send until the reply is saved (or the unsent turn released),
the session's ``reply_saved`` event is clear, and the next run waits for it before it reads the
conversation or replays the key (``submission.earlier_reply_saved``)."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from workbench.billing.after_charge import top_up_soon
from workbench.chat.conversations import Conversations
from workbench.chat.submission import (
    PENDING_KEY,
    AlreadyAnswered,
    Refused,
    Started,
    Submission,
    send,
    stream_and_save,
    streaming,
)
from workbench.chat.transcript import not_answered, show_typed, stream_reply
from workbench.gateway.caller import Caller
from workbench.gateway.errors import GatewayError
from workbench.gateway.facade import Gateway
from workbench.ui.cached_reads import conversations_changed
from workbench.ui.chrome import show_failure
from workbench.ui.messages import escape_markdown
from workbench.ui.session import services

# Session state: a refused resend's error and text, for the run that shows the conversation whole.
REFUSED_KEY = "refused_resend"


def answer(gateway: Gateway, store: Conversations, caller: Caller, submission: Submission) -> None:
    saved = streaming(st.session_state)
    sent: Started | Refused | AlreadyAnswered | None = None
    try:
        show_typed(submission.text, submission.attachments)
        sent = send(gateway, store, caller, submission)
        if isinstance(sent, Refused):
            _refused(sent, submission)
        if isinstance(sent, AlreadyAnswered):
            _answered_before(sent, submission, caller)
            return
        # A rerun before this submission is answered must not start another conversation, and
        # the list must show it whether the reply finishes or is stopped.
        st.session_state[PENDING_KEY] = sent.submission
        st.session_state["conversation_id"] = sent.conversation_id
        conversations_changed(caller.user_id, caller.workspace_id)
        if sent.turn.notice:
            st.info(escape_markdown(sent.turn.notice))
        with st.chat_message("assistant"):
            try:
                stream_reply(
                    stream_and_save(
                        sent.turn, store, caller.user_id, sent.conversation_id, sent.sent_at
                    ),
                    f"stop-{submission.key}",
                )
            except GatewayError as error:
                show_failure(error)
        st.session_state.pop(PENDING_KEY, None)
        conversations_changed(caller.user_id, caller.workspace_id)
        # What it cost is the reply's own caption now (no toast after every turn).
        st.rerun()
    finally:
        if isinstance(sent, Started):
            sent.turn.close()  # interrupted before it streamed: the hold is given back now
        saved.set()
        if isinstance(sent, Started):
            # The turn is settled (charged, or given back): auto top-up looks in the background.
            top_up_soon(services().billing, caller.workspace_id)


def _refused(sent: Refused, submission: Submission) -> NoReturn:
    st.session_state.pop(PENDING_KEY, None)
    if submission.replaces is not None:
        # This run showed the conversation only up to the message the resend would replace;
        # nothing was replaced, so the next run shows it whole again, the refusal under it.
        st.session_state[REFUSED_KEY] = (sent.error, submission.text)
        st.rerun()
    show_refusal(sent.error, submission.text)
    st.stop()


def show_refusal(error: Exception, text: str) -> None:
    show_failure(error)
    st.caption("Your message was not sent; it is here to copy:")
    st.code(text, language=None)


def earlier_refusal() -> None:
    """A refused edit or regenerate, said once under the conversation it left as it was."""
    refused = st.session_state.pop(REFUSED_KEY, None)
    if refused is not None:
        show_refusal(*refused)


def _answered_before(sent: AlreadyAnswered, submission: Submission, caller: Caller) -> None:
    """An earlier run answered (or gave up on) this submission: most often the one Stop
    interrupted. Nothing is sent or charged again."""
    st.session_state.pop(PENDING_KEY, None)
    conversations_changed(caller.user_id, caller.workspace_id)
    if sent.shown:
        # Saved with its caption ("stopped — … charged for what was written").
        st.session_state["conversation_id"] = submission.conversation_id
        st.rerun()
    st.error(not_answered(sent.result.message))
    st.code(submission.text, language=None)
    st.stop()
