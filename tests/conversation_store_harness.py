"""What the conversation store's tests share: a store on the test's database and clock, and a
snapshot of every row of the chat tables, to show a refused call changed nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.service import Ledger
from tests.conftest import FakeClock
from workbench.chat.attachments import Attachment
from workbench.chat.conversations import Conversations
from workbench.db import schema as app_schema
from workbench.db.schema import conversations, message_attachments, messages

CHAT_TABLES = (conversations, messages, message_attachments)

PICTURE = Attachment(
    name="cat.png",
    kind="image",
    media_type="image/png",
    size=12,
    data=b"\x89PNG\r\n\x1a\n\x00\x00\xff\x01",
)
NOTES = Attachment(
    name="notes_100%.md",
    kind="text",
    media_type="text/markdown",
    size=31,
    text="# Notes\n\n- *one*\n- [two](x)\n",
)


def open_store(ledger: Ledger, clock: FakeClock) -> Conversations:
    app_schema.migrate(ledger.engine)
    return Conversations(ledger.engine, clock=clock)


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the chat tables, in id order."""
    with engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(sa.select(table).order_by(table.c.id))]
            for table in CHAT_TABLES
        }


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
