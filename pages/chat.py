"""Chat: conversations on the left, the selected one on the right, replies streamed."""

from __future__ import annotations

import streamlit as st

from ledger.errors import LedgerError
from workbench.chat.submission import (
    AlreadyAnswered,
    Refused,
    as_messages,
    new_submission,
    send,
    stream_and_save,
)
from workbench.gateway.caller import Caller
from workbench.gateway.errors import GatewayError
from workbench.ui.cached_reads import conversation_list, conversations_changed
from workbench.ui.chrome import flash, page_header, show_estimate_problem, show_failure
from workbench.ui.messages import credits
from workbench.ui.page_registry import spec
from workbench.ui.session import services

svc = services()
who = st.session_state["who"]
caller = Caller(who.user.id, who.workspace.id, who.workspace.account_id)
store = svc.conversations
page_header(spec("chat"))

conversations = conversation_list(who.user.id, who.workspace.id)
selected = st.session_state.get("conversation_id")
if selected not in {c.id for c in conversations}:
    selected = None

left, main = st.columns([1, 3], gap="large")
with left:
    if st.button("New conversation", icon=":material/add:", width="stretch"):
        st.session_state["conversation_id"] = None
        st.rerun()
    for conversation in conversations:
        chosen = conversation.id == selected
        if st.button(
            conversation.title,
            key=f"open-{conversation.id}",
            width="stretch",
            type="primary" if chosen else "secondary",
        ):
            st.session_state["conversation_id"] = conversation.id
            st.rerun()
    if selected is not None:
        current = next(c for c in conversations if c.id == selected)
        with st.expander("Rename or delete"):
            title = st.text_input("Title", value=current.title, key=f"title-{selected}")
            if st.button("Rename", key="rename") and title.strip():
                store.rename(who.user.id, selected, title)
                conversations_changed(who.user.id, who.workspace.id)
                flash("Conversation renamed.")
                st.rerun()
            if st.button("Delete conversation", key="delete", type="secondary"):
                store.delete(who.user.id, selected)
                conversations_changed(who.user.id, who.workspace.id)
                st.session_state["conversation_id"] = None
                flash("Conversation deleted.")
                st.rerun()

with main:
    models = svc.gateway.models("chat")
    names = {m.id: m.name for m in models}
    model = st.selectbox(
        "Model",
        list(names),
        format_func=names.__getitem__,
        key="chat_model",
        help="Only models on the workbench's allowlist with a configured provider are offered.",
    )
    system = st.text_area(
        "System prompt (optional)",
        key="system_prompt",
        height=68,
        placeholder="e.g. Answer briefly, in British English.",
    )
    history = store.messages(who.user.id, selected) if selected is not None else []
    for message in history:
        with st.chat_message(message.role):
            st.markdown(message.content)
            if message.role == "assistant" and message.credits is not None:
                note = "" if message.status == "ok" else f" · {message.status}"
                st.caption(f"{credits(message.credits)}{note}")

    try:
        estimate = svc.gateway.estimate_chat(as_messages(history, "…"), model=model, system=system)
        st.caption(f"Next message: about {credits(estimate.credits)}, held while it is answered.")
    except (LedgerError, GatewayError) as error:
        show_estimate_problem(error)

    prompt = st.chat_input("Message", submit_mode="stop", key="chat_prompt")
    if prompt:
        st.session_state["submission"] = new_submission(
            prompt, selected, model, system, len(history)
        )
    submission = st.session_state.get("submission")
    if submission is not None:
        with st.chat_message("user"):
            st.markdown(submission.text)
        sent = send(svc.gateway, store, caller, submission)
        if isinstance(sent, Refused):
            st.session_state.pop("submission", None)
            show_failure(sent.error)
            st.caption("Your message was not sent; it is here to copy:")
            st.code(submission.text, language=None)
            st.stop()
        if isinstance(sent, AlreadyAnswered):
            st.session_state.pop("submission", None)
            if sent.shown:
                st.rerun()
            st.error(sent.result.message or "This message was not answered.")
            st.code(submission.text, language=None)
            st.stop()
        # A rerun before this submission is answered must not start another conversation.
        st.session_state["submission"] = sent.submission
        st.session_state["conversation_id"] = sent.conversation_id
        if sent.turn.notice:
            st.info(sent.turn.notice)
        with st.chat_message("assistant"):
            try:
                st.write_stream(
                    stream_and_save(sent.turn, store, who.user.id, sent.conversation_id)
                )
            except GatewayError as error:
                show_failure(error)
        st.session_state.pop("submission", None)
        conversations_changed(who.user.id, who.workspace.id)
        if sent.turn.result is not None:
            flash(f"{credits(sent.turn.result.credits)} charged for that reply.")
        st.rerun()
