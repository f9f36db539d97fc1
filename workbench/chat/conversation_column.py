"""The chat page's left column: New conversation, the person's conversations (a title is what they
typed: a button label of text, never Markdown), and renaming or deleting the one open."""

from __future__ import annotations

import streamlit as st

from workbench.chat.conversations import Conversation, Conversations
from workbench.ui.cached_reads import conversations_changed
from workbench.ui.chrome import flash
from workbench.ui.messages import escape_markdown


def conversation_column(
    store: Conversations,
    user_id: int,
    workspace_id: int,
    conversations: list[Conversation],
    selected: int | None,
) -> None:
    if st.button("New conversation", icon=":material/add:", width="stretch"):
        st.session_state["conversation_id"] = None
        st.rerun()
    for conversation in conversations:
        chosen = conversation.id == selected
        if st.button(
            escape_markdown(conversation.title),
            key=f"open-{conversation.id}",
            width="stretch",
            type="primary" if chosen else "secondary",
        ):
            st.session_state["conversation_id"] = conversation.id
            st.rerun()
    if selected is None:
        return
    current = next(c for c in conversations if c.id == selected)
    with st.expander("Rename or delete"):
        title = st.text_input("Title", value=current.title, key=f"title-{selected}")
        if st.button("Rename", key="rename") and title.strip():
            store.rename(user_id, selected, title)
            conversations_changed(user_id, workspace_id)
            flash("Conversation renamed.")
            st.rerun()
        if st.button("Delete conversation", key="delete", type="secondary"):
            store.delete(user_id, selected)
            conversations_changed(user_id, workspace_id)
            st.session_state["conversation_id"] = None
            flash("Conversation deleted.")
            st.rerun()
