"""The files attached to chat messages, as ``workbench.chat.conversations`` keeps them: checked
before anything is written, stored in the message's transaction, read back for a whole
conversation in one query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.chat.attachments import Attachment
from workbench.db.schema import message_attachments, messages
from workbench.gateway.errors import InvalidRequest

NAME_LIMIT = 255  # the columns' lengths
MEDIA_TYPE_LIMIT = 100
KINDS = ("image", "text")


def attachment_rows(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """The rows to insert for ``attachments`` (without their message), or a clear refusal if any
    cannot be kept."""
    return [_row(position, attachment) for position, attachment in enumerate(attachments)]


def store_attachments(conn: Connection, message_id: int, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(
            message_attachments.insert(), [{**row, "message_id": message_id} for row in rows]
        )


def attachments_of(conn: Connection, conversation_id: int) -> dict[int, tuple[Attachment, ...]]:
    """Every attachment of the conversation's messages, by message id, in attached order."""
    rows = conn.execute(
        sa.select(message_attachments)
        .join(messages, messages.c.id == message_attachments.c.message_id)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(message_attachments.c.message_id, message_attachments.c.position)
    )
    found: dict[int, list[Attachment]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(
            Attachment(
                name=row.name,
                kind=row.kind,
                media_type=row.media_type,
                size=row.size_bytes,
                text=row.text,
                data=row.data,
            )
        )
    return {message_id: tuple(kept) for message_id, kept in found.items()}


def _row(position: int, attachment: Attachment) -> dict[str, Any]:
    name = attachment.name
    if not name.strip():
        raise InvalidRequest("An attached file needs a name.")
    if len(name) > NAME_LIMIT:
        raise InvalidRequest(f"An attached file's name is at most {NAME_LIMIT} characters.")
    if attachment.kind not in KINDS:
        raise InvalidRequest(
            f"An attached file is a picture or a text file, not {attachment.kind!r:.40}."
        )
    if not attachment.media_type or len(attachment.media_type) > MEDIA_TYPE_LIMIT:
        raise InvalidRequest(f"An attached file's type must be 1 to {MEDIA_TYPE_LIMIT} characters.")
    if attachment.size < 0:
        raise InvalidRequest("An attached file's size cannot be negative.")
    if attachment.kind == "image" and attachment.data is None:
        raise InvalidRequest(f"The picture {name!r:.60} has no content to keep.")
    if attachment.kind == "text" and attachment.text is None:
        raise InvalidRequest(f"The text file {name!r:.60} has no text to keep.")
    return {
        "position": position,
        "name": name,
        "kind": attachment.kind,
        "media_type": attachment.media_type,
        "size_bytes": attachment.size,
        "text": attachment.text,
        "data": attachment.data,
    }
