"""The chat page's conversation list, in the sidebar: New conversation, a search over titles and
what was written, the person's conversations a page at a time (newest first), each title shown
as text and cut with an ellipsis.

In the sidebar so that at a phone's width the conversation comes first and the list sits behind
the sidebar's control, with the balance and Sign out.
"""

from __future__ import annotations

import math

import streamlit as st

from workbench.chat.conversations import ConversationPage, Conversations
from workbench.ui.cached_reads import CONVERSATIONS_PER_PAGE as PAGE_SIZE
from workbench.ui.cached_reads import first_conversations
from workbench.ui.messages import escape_markdown

# A title's characters shown in the list; the full title is the button's tooltip.
SHOWN_TITLE = 40
SEARCH_KEY = "conversation_search"
PAGE_KEY = "conversation_page"
OPEN_KEY = "conversation_id"


def conversation_sidebar(
    store: Conversations, user_id: int, workspace_id: int, selected: int | None
) -> None:
    with st.sidebar:
        st.divider()
        st.button(
            "New conversation",
            icon=":material/add:",
            width="stretch",
            key="new_conversation",
            on_click=open_conversation,
            args=(None,),
        )
        search = st.text_input(
            "Search conversations",
            key=SEARCH_KEY,
            placeholder="Search titles and messages",
            icon=":material/search:",
            on_change=_back_to_first_page,
        ).strip()
        listing = _listing(store, user_id, workspace_id, search)
        if not listing.items:
            st.caption("No conversation matches that." if search else "No conversations yet.")
        for conversation in listing.items:
            st.button(
                short_title(conversation.title),
                key=f"open-{conversation.id}",
                width="stretch",
                type="primary" if conversation.id == selected else "tertiary",
                help=escape_markdown(conversation.title),
                on_click=open_conversation,
                args=(conversation.id,),
            )
        if listing.total > PAGE_SIZE:
            st.pagination(math.ceil(listing.total / PAGE_SIZE), key=PAGE_KEY)
            st.caption(f"{listing.total:,} conversations")


def short_title(title: str) -> str:
    """The title as literal text (a button label reads Markdown), cut with an ellipsis."""
    cut = title if len(title) <= SHOWN_TITLE else title[: SHOWN_TITLE - 1].rstrip() + "…"
    return escape_markdown(cut)


def open_conversation(conversation_id: int | None) -> None:
    st.session_state[OPEN_KEY] = conversation_id


def _back_to_first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _listing(
    store: Conversations, user_id: int, workspace_id: int, search: str
) -> ConversationPage:
    """The page asked for; the first page without a search (what nearly every run shows) from
    the cache, the rest read fresh."""
    page_no = int(st.session_state.get(PAGE_KEY) or 1)
    if not search and page_no == 1:
        listing = first_conversations(user_id, workspace_id, PAGE_SIZE)
    else:
        listing = store.page(
            user_id,
            workspace_id,
            search=search or None,
            offset=(page_no - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    pages = max(1, math.ceil(listing.total / PAGE_SIZE))
    if page_no > pages:  # the list shrank (a delete, a narrower search): its last page
        st.session_state[PAGE_KEY] = pages
        return _listing(store, user_id, workspace_id, search)
    return listing
