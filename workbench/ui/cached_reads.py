"""Slow, rarely-changing reads the pages share, in bounded ``st.cache_data`` caches.

Policy (also in docs/architecture.md §8): catalogues (image options, the credit packs and plans
on offer) for 60 s, 64 entries at most; the first page of a user's conversation list (no search)
for 30 s, cleared exactly for that user and workspace
after a create, rename, delete or undo; searches and later pages are read fresh. Balances, holds,
ledger lines, payments, subscriptions and usage are never cached: they are read fresh on every
run.
"""

from __future__ import annotations

import streamlit as st

from workbench.billing.offers import Offer, OfferKind
from workbench.chat.conversations import ConversationPage
from workbench.ui.session import services


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def image_options(model: str) -> dict[str, list[str]]:
    return services().gateway.image_options(model)


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def offers(kind: OfferKind) -> list[Offer]:
    """The packs or plans on offer (the ``offers`` table, which the catalogue files seed)."""
    return services().billing.offers(kind)


# The chat page's list, a page at a time.
CONVERSATIONS_PER_PAGE = 30


@st.cache_data(ttl=30, max_entries=1000, show_spinner=False)
def first_conversations(user_id: int, workspace_id: int, limit: int) -> ConversationPage:
    """The first page of a person's conversations, without a search: what the chat page's list
    shows on nearly every run. Searches and later pages are read fresh."""
    return services().conversations.page(user_id, workspace_id, limit=limit)


def conversations_changed(user_id: int, workspace_id: int) -> None:
    """After a create, rename, delete, undo or new message: that person's list only."""
    first_conversations.clear(user_id, workspace_id, CONVERSATIONS_PER_PAGE)
