"""Slow, rarely-changing reads the pages share, in bounded ``st.cache_data`` caches.

Policy (also in docs/architecture.md §8): catalogues (models on offer, image options, the credit
packs and plans on offer) for 60 s, 64 entries at most; a user's conversation list for 30 s,
cleared exactly for that user and workspace after a create, rename or delete. Balances, holds,
ledger lines, payments, subscriptions and usage are never cached: they are read fresh on every
run.
"""

from __future__ import annotations

import streamlit as st

from workbench.billing.offers import Offer, OfferKind
from workbench.chat.conversations import Conversation
from workbench.ui.session import services


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def image_options(model: str) -> dict[str, list[str]]:
    return services().gateway.image_options(model)


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def offers(kind: OfferKind) -> list[Offer]:
    """The packs or plans on offer (the ``offers`` table, which the catalogue files seed)."""
    return services().billing.offers(kind)


@st.cache_data(ttl=30, max_entries=1000, show_spinner=False)
def conversation_list(user_id: int, workspace_id: int) -> list[Conversation]:
    return services().conversations.for_user(user_id, workspace_id)


def conversations_changed(user_id: int, workspace_id: int) -> None:
    """After a create, rename, delete or new message: that list only, not everyone's."""
    conversation_list.clear(user_id, workspace_id)
