"""Chat: conversations on the left, the selected one on the right, replies streamed."""

from __future__ import annotations

import streamlit as st

from ledger.errors import LedgerError
from workbench.chat.answering import answer
from workbench.chat.conversation_column import conversation_column
from workbench.chat.submission import (
    PENDING_KEY,
    as_messages,
    earlier_reply_saved,
    new_submission,
    pending_in,
)
from workbench.chat.transcript import show_history
from workbench.gateway.caller import Caller
from workbench.gateway.errors import GatewayError
from workbench.ui.cached_reads import conversation_list
from workbench.ui.chrome import page_header, show_estimate_problem
from workbench.ui.messages import credits
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
conversations = conversation_list(who.user.id, who.workspace.id)
selected = st.session_state.get("conversation_id")
if selected not in {c.id for c in conversations}:
    selected = None

left, main = st.columns([1, 3], gap="large")
with left:
    conversation_column(store, who.user.id, who.workspace.id, conversations, selected)

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
    show_history(history)

    try:
        estimate = svc.gateway.estimate_chat(as_messages(history, "…"), model=model, system=system)
        st.caption(f"Next message: about {credits(estimate.credits)}, held while it is answered.")
    except (LedgerError, GatewayError) as error:
        show_estimate_problem(error)

    # Send stays a send button while a reply streams: Stop is the reply's own button.
    prompt = st.chat_input("Message", key="chat_prompt")
    if prompt:
        submission = st.session_state[PENDING_KEY] = new_submission(
            prompt, selected, model, system, len(history), who.workspace.id
        )
    if submission is not None:
        answer(svc.gateway, store, caller, submission)
