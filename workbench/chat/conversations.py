"""Saved chat conversations, per user: list (a page at a time, searchable), open, rename, change
their settings, delete with an undo, and their messages with the files attached to them.

Every function takes the owner's user id and touches only that owner's rows, so a page cannot
open someone else's conversation by guessing an id. A deleted conversation is gone for every
function but :meth:`Conversations.restore` until :meth:`Conversations.purge_deleted` removes it.

``updated_at`` orders the list. It moves when a message is added and on a rename, not when the
settings change (so choosing a model does not make the list jump) nor on a restore (a restored
conversation goes back to its place) nor on a truncation (the message that follows moves it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from workbench.chat.attachments import Attachment
from workbench.chat.conversation_list import check_window, listed
from workbench.chat.message_attachments import attachment_rows, attachments_of, store_attachments
from workbench.db.schema import conversations, messages
from workbench.gateway.errors import InvalidRequest

TITLE_LIMIT = 80
MODEL_LIMIT = 200  # the column's length
ROLES = ("user", "assistant")
PURGE_AFTER = timedelta(minutes=10)


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
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: int | None = None
    attachments: tuple[Attachment, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True)
class ConversationPage:
    """One page of the list: ``total`` counts every conversation that matched, on any page."""

    items: list[Conversation]
    total: int
    offset: int
    limit: int


class NotFound(InvalidRequest):
    """No such conversation for this user (it may be someone else's, or deleted)."""


GONE = "That conversation does not exist (it may have been deleted)."
NOT_IN_BIN = (
    "That conversation cannot be brought back (it was not deleted, or it is gone for good)."
)
NO_SUCH_MESSAGE = "That message is not in this conversation (it may have been removed)."


def _title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise InvalidRequest("A conversation needs a title.")
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Conversations:
    engine: Engine
    clock: Callable[[], datetime] = field(default=_utc_now)

    def create(
        self,
        user_id: int,
        workspace_id: int,
        first_message: str,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> Conversation:
        values = {
            "title": _title(first_message),
            "model": _model(model),
            "system_prompt": _system_prompt(system_prompt),
        }
        now = self.clock()
        with db.write_transaction(self.engine) as conn:
            conversation_id = conn.execute(
                conversations.insert()
                .values(
                    user_id=user_id,
                    workspace_id=workspace_id,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .returning(conversations.c.id)
            ).scalar_one()
        return self.get(user_id, int(conversation_id))

    def page(
        self,
        user_id: int,
        workspace_id: int,
        *,
        search: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> ConversationPage:
        """The user's conversations in the workspace, newest first (``id`` breaks ties), from
        ``offset``. ``search`` keeps those whose title or any message holds it, ignoring case
        (every character literal: ``%`` and ``_`` are not wildcards); blank means no search."""
        check_window(offset, limit)
        matches = listed(user_id, workspace_id, search)
        rows = (
            sa.select(conversations)
            .where(matches)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(conversations).where(matches)
        with db.read_only_connection(self.engine) as conn:
            items = [_conversation(row) for row in conn.execute(rows)]
            total = int(conn.execute(count).scalar_one())
        return ConversationPage(items, total, offset, limit)

    def for_user(self, user_id: int, workspace_id: int, limit: int = 100) -> list[Conversation]:
        """The first ``limit`` conversations of the list (see :meth:`page`)."""
        return self.page(user_id, workspace_id, limit=limit).items

    def get(self, user_id: int, conversation_id: int) -> Conversation:
        with db.read_only_connection(self.engine) as conn:
            return _owned(conn, user_id, conversation_id)

    def rename(self, user_id: int, conversation_id: int, title: str) -> None:
        self._update(user_id, conversation_id, title=_title(title), updated_at=self.clock())

    def set_settings(
        self,
        user_id: int,
        conversation_id: int,
        *,
        model: str | None,
        system_prompt: str | None,
    ) -> None:
        """Remember the model and system prompt chosen for this conversation (``None`` or blank
        clears one). Leaves ``updated_at`` alone: the list does not reorder for a setting."""
        self._update(
            user_id,
            conversation_id,
            model=_model(model),
            system_prompt=_system_prompt(system_prompt),
        )

    def delete(self, user_id: int, conversation_id: int) -> None:
        """Move the conversation to the bin: hidden everywhere, :meth:`restore` brings it back
        until the purge. Also purges what has waited long enough (one indexed statement)."""
        now = self.clock()
        with db.write_transaction(self.engine) as conn:
            deleted = conn.execute(
                conversations.update()
                .where(_mine(user_id, conversation_id), conversations.c.deleted_at.is_(None))
                .values(deleted_at=now)
            ).rowcount
            if not deleted:
                raise NotFound(GONE)
            _purge(conn, now - PURGE_AFTER)

    def restore(self, user_id: int, conversation_id: int) -> None:
        """Undo :meth:`delete`, while the conversation waits for its purge."""
        with db.write_transaction(self.engine) as conn:
            restored = conn.execute(
                conversations.update()
                .where(_mine(user_id, conversation_id), conversations.c.deleted_at.is_not(None))
                .values(deleted_at=None)
            ).rowcount
        if not restored:
            raise NotFound(NOT_IN_BIN)

    def purge_deleted(self, older_than: timedelta = PURGE_AFTER) -> int:
        """Delete for good every conversation deleted more than ``older_than`` ago, with its
        messages and their attachments (the foreign keys cascade); how many went."""
        if older_than < timedelta(0):
            raise InvalidRequest("The purge's age cannot be negative.")
        with db.write_transaction(self.engine) as conn:
            return _purge(conn, self.clock() - older_than)

    def messages(self, user_id: int, conversation_id: int) -> list[Message]:
        """The conversation's messages in order, each with its attachments (two queries)."""
        with db.read_only_connection(self.engine) as conn:
            _owned(conn, user_id, conversation_id)
            rows = conn.execute(
                sa.select(messages)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.id)
            ).all()
            attached = attachments_of(conn, conversation_id) if rows else {}
        return [_message(row, attached.get(row.id, ())) for row in rows]

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
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        duration_ms: int | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> int:
        """Save a message (and its attachments, in the same transaction); its id."""
        if role not in ROLES:
            raise InvalidRequest(f"A message is from the user or the assistant, not {role!r:.40}.")
        for name, number in (
            ("input tokens", input_tokens),
            ("output tokens", output_tokens),
            ("duration", duration_ms),
        ):
            if number is not None and number < 0:
                raise InvalidRequest(f"A message's {name} cannot be negative.")
        attached = attachment_rows(attachments)
        now = self.clock()
        with db.write_transaction(self.engine) as conn:
            owned = conn.execute(
                conversations.update()
                .where(_mine(user_id, conversation_id), conversations.c.deleted_at.is_(None))
                .values(updated_at=now)
            ).rowcount
            if not owned:
                raise NotFound(GONE)
            message_id = int(
                conn.execute(
                    messages.insert()
                    .values(
                        conversation_id=conversation_id,
                        role=role,
                        content=content,
                        model=model,
                        hold_id=hold_id,
                        status=status,
                        credits=credits,
                        input_tokens=input_tokens,
                        output_tokens=output_tokens,
                        duration_ms=duration_ms,
                        created_at=now,
                    )
                    .returning(messages.c.id)
                ).scalar_one()
            )
            store_attachments(conn, message_id, attached)
        return message_id

    def truncate_from(self, user_id: int, conversation_id: int, message_id: int) -> None:
        """Delete ``message_id`` and every later message of the conversation (edit and resend,
        regenerate)."""
        with db.write_transaction(self.engine) as conn:
            _owned(conn, user_id, conversation_id)
            found = conn.execute(
                sa.select(messages.c.id).where(
                    messages.c.id == message_id, messages.c.conversation_id == conversation_id
                )
            ).first()
            if found is None:
                raise NotFound(NO_SUCH_MESSAGE)
            conn.execute(
                messages.delete().where(
                    messages.c.conversation_id == conversation_id, messages.c.id >= message_id
                )
            )

    def _update(self, user_id: int, conversation_id: int, **values: object) -> None:
        with db.write_transaction(self.engine) as conn:
            updated = conn.execute(
                conversations.update()
                .where(_mine(user_id, conversation_id), conversations.c.deleted_at.is_(None))
                .values(**values)
            ).rowcount
        if not updated:
            raise NotFound(GONE)


def _mine(user_id: int, conversation_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(conversations.c.id == conversation_id, conversations.c.user_id == user_id)


def _owned(conn: Connection, user_id: int, conversation_id: int) -> Conversation:
    row = conn.execute(
        sa.select(conversations).where(
            _mine(user_id, conversation_id), conversations.c.deleted_at.is_(None)
        )
    ).first()
    if row is None:
        raise NotFound(GONE)
    return _conversation(row)


def _purge(conn: Connection, deleted_before: datetime) -> int:
    return int(
        conn.execute(
            conversations.delete().where(
                conversations.c.deleted_at.is_not(None),
                conversations.c.deleted_at <= deleted_before,
            )
        ).rowcount
    )


def _model(model: str | None) -> str | None:
    model = (model or "").strip() or None
    if model is not None and len(model) > MODEL_LIMIT:
        raise InvalidRequest(f"A model's name is at most {MODEL_LIMIT} characters.")
    return model


def _system_prompt(text: str | None) -> str | None:
    return text if text and text.strip() else None


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


def _message(row: sa.Row[tuple[object, ...]], attached: tuple[Attachment, ...]) -> Message:
    m = row._mapping
    return Message(
        m["id"],
        m["role"],
        m["content"],
        m["model"],
        m["status"],
        m["credits"],
        input_tokens=m["input_tokens"],
        output_tokens=m["output_tokens"],
        duration_ms=m["duration_ms"],
        attachments=attached,
        created_at=m["created_at"],
    )
