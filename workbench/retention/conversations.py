"""Conversation retention: a conversation whose last message (or rename) is older than the
cut-off goes whole, with its messages and the files attached to them (the foreign keys cascade),
and so does one waiting in the bin since before it.

Whole conversations, by ``updated_at``, rather than old messages out of a conversation still in
use: a transcript missing its beginning would answer differently (the model sees it all) and its
title is its first message. Nothing else refers to a conversation or a message: a reply's hold and
usage row are the ledger's and stay; what the reply cost was shown on the message itself.

Candidates are found by a read walking the ids in order (a batch at a time), then deleted in a
write transaction of their own that locks them and checks the cut-off again: a message added
meanwhile keeps its conversation, and of two purges at once each row is counted by the one that
deleted it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from workbench.db.schema import conversations, message_attachments, messages


@dataclass(frozen=True)
class ConversationCounts:
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    attachment_bytes: int = 0

    def __add__(self, other: ConversationCounts) -> ConversationCounts:
        return ConversationCounts(
            self.conversations + other.conversations,
            self.messages + other.messages,
            self.attachments + other.attachments,
            self.attachment_bytes + other.attachment_bytes,
        )


def _old(cutoff: datetime) -> sa.ColumnElement[bool]:
    return conversations.c.updated_at < cutoff


def _counts(conn: Connection, chosen: sa.ColumnElement[bool]) -> ConversationCounts:
    """What the conversations matching ``chosen`` hold."""
    ids = sa.select(conversations.c.id).where(chosen).scalar_subquery()
    found = conn.execute(sa.select(sa.func.count()).select_from(conversations).where(chosen))
    held = conn.execute(
        sa.select(sa.func.count()).select_from(messages).where(messages.c.conversation_id.in_(ids))
    )
    attached = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(message_attachments.c.size_bytes), 0)
        )
        .select_from(message_attachments.join(messages))
        .where(messages.c.conversation_id.in_(ids))
    ).one()
    return ConversationCounts(
        int(found.scalar_one()), int(held.scalar_one()), int(attached[0]), int(attached[1])
    )


def plan(engine: Engine, cutoff: datetime) -> ConversationCounts:
    """What a purge with ``cutoff`` would remove now."""
    with db.read_only_connection(engine) as conn:
        return _counts(conn, _old(cutoff))


def purge(
    engine: Engine,
    cutoff: datetime,
    batch_size: int,
    *,
    in_transaction: Callable[[Connection], None],
    progress: Callable[[ConversationCounts], None],
) -> ConversationCounts:
    """Remove what ``plan`` counts, ``batch_size`` conversations per write transaction; calls
    ``in_transaction`` inside each transaction that deletes and ``progress`` after it commits."""
    total = ConversationCounts()
    after = 0
    while True:
        with db.read_only_connection(engine) as conn:
            candidates = list(
                conn.execute(
                    sa.select(conversations.c.id)
                    .where(conversations.c.id > after, _old(cutoff))
                    .order_by(conversations.c.id)
                    .limit(batch_size)
                ).scalars()
            )
        if not candidates:
            return total
        after = candidates[-1]
        with db.write_transaction(engine) as conn:
            locked = list(
                conn.execute(
                    sa.select(conversations.c.id)
                    .where(conversations.c.id.in_(candidates), _old(cutoff))
                    .with_for_update()
                ).scalars()
            )
            if not locked:
                continue
            chosen = conversations.c.id.in_(locked)
            removed = _counts(conn, chosen)
            in_transaction(conn)
            conn.execute(conversations.delete().where(chosen))
        total += removed
        progress(removed)
