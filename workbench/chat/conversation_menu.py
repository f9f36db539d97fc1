"""What can be done to the open conversation, from a menu beside its settings: rename, export as
Markdown, delete (after a confirmation, with an Undo for a few seconds).

Delete is a soft delete (``Conversations.delete``): Undo restores it; the rows are purged some
minutes later, well after the Undo has gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from workbench.chat.conversations import Conversation, Conversations, Message
from workbench.chat.export import conversation_markdown, export_file_name
from workbench.gateway.errors import InvalidRequest
from workbench.ui.cached_reads import conversations_changed
from workbench.ui.chrome import flash
from workbench.ui.messages import escape_markdown

UNDO_S = 10.0
_CONFIRM_KEY = "confirm_delete"
_DELETED_KEY = "deleted_conversation"


@dataclass(frozen=True)
class Deleted:
    id: int
    title: str
    at: float  # time.monotonic()


def conversation_menu(
    store: Conversations, user_id: int, conversation: Conversation, history: list[Message]
) -> None:
    with st.popover(
        "",
        icon=":material/more_horiz:",
        key="conversation_menu",
        help="Rename, export or delete this conversation",
    ):
        title = st.text_input("Title", value=conversation.title, key=f"title-{conversation.id}")
        if st.button("Rename", key="rename", icon=":material/edit:"):
            try:
                store.rename(user_id, conversation.id, title)
            except InvalidRequest as error:
                st.error(escape_markdown(str(error)))
            else:
                conversations_changed(user_id, conversation.workspace_id)
                flash("Conversation renamed.")
                st.rerun()
        st.download_button(
            "Export as Markdown",
            conversation_markdown(conversation, history),
            file_name=export_file_name(conversation),
            mime="text/markdown",
            icon=":material/download:",
            key="export",
            on_click="ignore",
        )
        st.button(
            "Delete conversation",
            key="delete",
            icon=":material/delete:",
            on_click=_ask,
            args=(conversation.id,),
        )


def delete_confirmation(
    store: Conversations, user_id: int, conversation: Conversation | None
) -> None:
    """Above the conversation once Delete was pressed: are you sure, naming it (as text). A
    question left unanswered is dropped once another conversation (or none) is open: it must
    not come back, unasked, when this one is opened again."""
    if conversation is None or st.session_state.get(_CONFIRM_KEY) != conversation.id:
        st.session_state.pop(_CONFIRM_KEY, None)
        return
    with st.container(border=True):
        st.text(f"Delete “{conversation.title}”? Its messages go with it.")
        with st.container(horizontal=True):
            st.button(
                "Delete",
                key="confirm-delete",
                type="primary",
                on_click=_delete,
                args=(store, user_id, conversation),
            )
            st.button("Cancel", key="cancel-delete", on_click=_ask, args=(None,))


def undo_notice(store: Conversations, user_id: int, workspace_id: int) -> None:
    """ "Conversation deleted. Undo" for ``UNDO_S`` seconds after a delete; it goes by itself
    (a fragment that redraws every second), without a click."""
    if not isinstance(st.session_state.get(_DELETED_KEY), Deleted):
        return

    @st.fragment(run_every=1)
    def _notice() -> None:
        deleted = st.session_state.get(_DELETED_KEY)
        if not isinstance(deleted, Deleted) or time.monotonic() - deleted.at > UNDO_S:
            st.session_state.pop(_DELETED_KEY, None)
            return
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.text(f"Deleted “{deleted.title}”.")
            if st.button("Undo", key="undo-delete", icon=":material/undo:"):
                st.session_state.pop(_DELETED_KEY, None)
                try:
                    store.restore(user_id, deleted.id)
                except InvalidRequest as error:
                    st.error(escape_markdown(str(error)))
                    return
                conversations_changed(user_id, workspace_id)
                st.session_state["conversation_id"] = deleted.id
                st.rerun(scope="app")

    _notice()


def _ask(conversation_id: int | None) -> None:
    st.session_state[_CONFIRM_KEY] = conversation_id


def _delete(store: Conversations, user_id: int, conversation: Conversation) -> None:
    st.session_state.pop(_CONFIRM_KEY, None)
    try:
        store.delete(user_id, conversation.id)
    except InvalidRequest:  # deleted meanwhile (another tab): it is gone either way
        return
    conversations_changed(user_id, conversation.workspace_id)
    st.session_state["conversation_id"] = None
    st.session_state[_DELETED_KEY] = Deleted(conversation.id, conversation.title, time.monotonic())
