"""Saved chat conversations, per user: list, open, rename, delete, and their messages.

Every function takes the owner's user id and touches only that owner's rows, so a page cannot
open someone else's conversation by guessing an id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import db
from workbench.db.schema import conversations, messages
from workbench.gateway.errors import InvalidRequest

TITLE_LIMIT = 80


@dataclass(frozen=True)
class Conversation:
    id: int
    user_id: int
    workspace_id: int
    title: str
    model: str | None
    system_prompt: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    id: int
    role: str
    content: str
    model: str | None
    status: str | None
    credits: int | None  # micro-credits


class NotFound(InvalidRequest):
    """No such conversation for this user (it may be someone else's, or deleted)."""


GONE = "That conversation does not exist (it may have been deleted)."


def _title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise InvalidRequest("A conversation needs a title.")
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


@dataclass(frozen=True)
class Conversations:
    engine: Engine

    def create(
        self,
        user_id: int,
        workspace_id: int,
        first_message: str,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> Conversation:
        now = datetime.now(UTC)
        with db.write_transaction(self.engine) as conn:
            conversation_id = conn.execute(
                conversations.insert()
                .values(
                    user_id=user_id,
                    workspace_id=workspace_id,
                    title=_title(first_message),
                    model=model,
                    system_prompt=system_prompt or None,
                    created_at=now,
                    updated_at=now,
                )
                .returning(conversations.c.id)
            ).scalar_one()
        return self.get(user_id, int(conversation_id))

    def for_user(self, user_id: int, workspace_id: int, limit: int = 100) -> list[Conversation]:
        query = (
            sa.select(conversations)
            .where(conversations.c.user_id == user_id, conversations.c.workspace_id == workspace_id)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .limit(limit)
        )
        with db.read_only_connection(self.engine) as conn:
            return [_conversation(row) for row in conn.execute(query)]

    def get(self, user_id: int, conversation_id: int) -> Conversation:
        with db.read_only_connection(self.engine) as conn:
            row = conn.execute(
                sa.select(conversations).where(
                    conversations.c.id == conversation_id, conversations.c.user_id == user_id
                )
            ).first()
        if row is None:
            raise NotFound(GONE)
        return _conversation(row)

    def rename(self, user_id: int, conversation_id: int, title: str) -> None:
        self._update(user_id, conversation_id, title=_title(title))

    def delete(self, user_id: int, conversation_id: int) -> None:
        with db.write_transaction(self.engine) as conn:
            deleted = conn.execute(
                conversations.delete().where(
                    conversations.c.id == conversation_id, conversations.c.user_id == user_id
                )
            ).rowcount
        if not deleted:
            raise NotFound(GONE)

    def messages(self, user_id: int, conversation_id: int) -> list[Message]:
        self.get(user_id, conversation_id)
        with db.read_only_connection(self.engine) as conn:
            rows = conn.execute(
                sa.select(messages)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.id)
            )
            return [Message(r.id, r.role, r.content, r.model, r.status, r.credits) for r in rows]

    def add_message(
        self,
        user_id: int,
        conversation_id: int,
        role: str,
        content: str,
        *,
        model: str | None = None,
        hold_id: int | None = None,
        status: str | None = None,
        credits: int | None = None,
    ) -> None:
        now = datetime.now(UTC)
        with db.write_transaction(self.engine) as conn:
            owned = conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
                .values(updated_at=now)
            ).rowcount
            if not owned:
                raise NotFound(GONE)
            conn.execute(
                messages.insert().values(
                    conversation_id=conversation_id,
                    role=role,
                    content=content,
                    model=model,
                    hold_id=hold_id,
                    status=status,
                    credits=credits,
                    created_at=now,
                )
            )

    def _update(self, user_id: int, conversation_id: int, **values: object) -> None:
        with db.write_transaction(self.engine) as conn:
            updated = conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
                .values(**values, updated_at=datetime.now(UTC))
            ).rowcount
        if not updated:
            raise NotFound(GONE)


def _conversation(row: sa.Row[tuple[object, ...]]) -> Conversation:
    m = row._mapping
    return Conversation(
        m["id"],
        m["user_id"],
        m["workspace_id"],
        m["title"],
        m["model"],
        m["system_prompt"],
        m["updated_at"],
    )
