"""The chat page answering its pending submission: send it (reserve, then call), stream the reply
under a Stop button, or say why there is none; every way out ends the run with a rerun or a stop.

A click while this runs (Stop, a new message, another workspace) starts the session's next run
at once, in another thread, while this one is interrupted at its next Streamlit call (Streamlit's
fast reruns). So from before the send until the reply is saved (or the unsent turn released),
the session's ``reply_saved`` event is clear, and the next run waits for it before it reads the
conversation or replays the key (``submission.earlier_reply_saved``)."""

from __future__ import annotations

import streamlit as st

from ledger.statuses import UsageStatus
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
from workbench.ui.chrome import flash, show_failure
from workbench.ui.messages import credits, escape_markdown
from workbench.ui.session import services


def answer(gateway: Gateway, store: Conversations, caller: Caller, submission: Submission) -> None:
    saved = streaming(st.session_state)
    sent: Started | Refused | AlreadyAnswered | None = None
    try:
        show_typed(submission.text)
        sent = send(gateway, store, caller, submission)
        if isinstance(sent, Refused):
            st.session_state.pop(PENDING_KEY, None)
            show_failure(sent.error)
            st.caption("Your message was not sent; it is here to copy:")
            st.code(submission.text, language=None)
            st.stop()
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
                    stream_and_save(sent.turn, store, caller.user_id, sent.conversation_id),
                    f"stop-{submission.key}",
                )
            except GatewayError as error:
                show_failure(error)
        st.session_state.pop(PENDING_KEY, None)
        conversations_changed(caller.user_id, caller.workspace_id)
        if sent.turn.result is not None:
            flash(f"{credits(sent.turn.result.credits)} charged for that reply.")
        st.rerun()
    finally:
        if isinstance(sent, Started):
            sent.turn.close()  # interrupted before it streamed: the hold is given back now
        saved.set()
        if isinstance(sent, Started):
            # The turn is settled (charged, or given back): auto top-up looks in the background.
            top_up_soon(services().billing, caller.workspace_id)


def _answered_before(sent: AlreadyAnswered, submission: Submission, caller: Caller) -> None:
    """An earlier run answered (or gave up on) this submission: most often the one Stop
    interrupted. Nothing is sent or charged again."""
    st.session_state.pop(PENDING_KEY, None)
    conversations_changed(caller.user_id, caller.workspace_id)
    if sent.shown:
        st.session_state["conversation_id"] = submission.conversation_id
        if sent.result.status == UsageStatus.CANCELLED:
            flash(f"Stopped: {credits(sent.result.credits)} charged for what was written.")
        st.rerun()
    st.error(not_answered(sent.result.message))
    st.code(submission.text, language=None)
    st.stop()
