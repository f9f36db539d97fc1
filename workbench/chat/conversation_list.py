"""Which conversations the list shows (``Conversations.page``): one person's in one workspace,
not deleted, matching a search if there is one; and the window of them a page may ask for."""

from __future__ import annotations

import sqlalchemy as sa

from workbench.db.schema import conversations, messages
from workbench.gateway.errors import InvalidRequest

PAGE_LIMIT = 200  # the most conversations one page may ask for


def listed(user_id: int, workspace_id: int, search: str | None) -> sa.ColumnElement[bool]:
    """Which conversations the list shows: the user's in the workspace, not deleted, and
    matching the search. The first three are the partial index ``ix_conversations_listed``."""
    shown = sa.and_(
        conversations.c.user_id == user_id,
        conversations.c.workspace_id == workspace_id,
        conversations.c.deleted_at.is_(None),
    )
    text = (search or "").strip()
    if not text:
        return shown
    # autoescape: the text's % and _ (and the escape character, /) match themselves. icontains
    # lowers both sides: any letter on PostgreSQL, ASCII letters only on SQLite.
    in_a_message = (
        sa.select(messages.c.id)
        .where(
            messages.c.conversation_id == conversations.c.id,
            messages.c.content.icontains(text, autoescape=True),
        )
        .exists()
    )
    return sa.and_(
        shown, sa.or_(conversations.c.title.icontains(text, autoescape=True), in_a_message)
    )


def check_window(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidRequest("A page cannot start before the first conversation.")
    if not 1 <= limit <= PAGE_LIMIT:
        raise InvalidRequest(f"A page holds 1 to {PAGE_LIMIT} conversations.")
