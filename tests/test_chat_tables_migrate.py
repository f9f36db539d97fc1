"""Migration a005 (deleted conversations kept for an undo, replies' tokens and time, attached
files) upgrades a database holding chats in place, adds exactly what the code describes (the
list's and the purge's partial indexes, the cascades), and goes back to a004 and up again
keeping every message, dropping only the attachments and the conversations waiting in the bin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger import db
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import seed
from tests.conversation_store_harness import NOTES, PICTURE
from workbench.chat.conversations import Conversations
from workbench.db import schema as app_schema
from workbench.db.migrate import migrate_all, revisions

CHAT_TABLES = {"conversations", "messages", "message_attachments"}
INDEXES = {
    "conversations": {("ix_conversations_listed", False), ("ix_conversations_deleted_at", False)},
    "messages": {("ix_messages_conversation_id_id", False)},
    "message_attachments": {("ix_message_attachments_message_id_position", True)},
}
CASCADES = {
    ("messages", "conversation_id", "conversations"),
    ("message_attachments", "message_id", "messages"),
}
# The app tree's newest revision (later revisions keep what these tests check).
APP_HEAD = ScriptDirectory(str(app_schema.MIGRATIONS)).get_current_head()
NEW_COLUMNS = {"messages": {"input_tokens", "output_tokens", "duration_ms"}}


def _chat(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    if type_ == "table":
        return name in CHAT_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in CHAT_TABLES


def columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params)]


def _where(index: Any) -> str:
    """A partial index's condition as reflected (``(deleted_at IS NULL)`` on PostgreSQL)."""
    options = index.get("dialect_options") or {}
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return str(where).strip("()").lower()


def test_a005_adds_what_the_code_describes(db_url: str) -> None:
    engine = db.create_engine(db_url)
    assert migrate_all(engine).app == APP_HEAD
    inspector = sa.inspect(engine)
    for table, expected in INDEXES.items():
        found = {(i["name"], bool(i["unique"])) for i in inspector.get_indexes(table)}
        assert found == expected, table
    partial = {
        i["name"]: (i["column_names"], _where(i)) for i in inspector.get_indexes("conversations")
    }
    assert partial == {
        "ix_conversations_listed": (
            ["user_id", "workspace_id", "updated_at", "id"],
            "deleted_at is null",
        ),
        "ix_conversations_deleted_at": (["deleted_at"], "deleted_at is not null"),
    }
    cascades = {
        (table, fk["constrained_columns"][0], fk["referred_table"])
        for table in CHAT_TABLES
        for fk in inspector.get_foreign_keys(table)
        if (fk.get("options") or {}).get("ondelete") == "CASCADE"
    }
    assert cascades >= CASCADES
    assert "deleted_at" in columns(engine, "conversations")
    assert NEW_COLUMNS["messages"] <= columns(engine, "messages")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _chat})
        assert compare_metadata(context, app_schema.metadata) == []
    engine.dispose()


def test_a005_upgrades_saved_chats_in_place(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    db.migrate(engine, "a004", location=app_schema.MIGRATIONS)
    s = seed(Ledger(engine), 0)
    when = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    # Written as revision a004's code wrote them.
    with engine.begin() as conn:
        conversation_id = conn.execute(
            sa.text(
                "INSERT INTO conversations (user_id, workspace_id, title, model, created_at, "
                "updated_at) VALUES (:u, :w, 'old chat', 'demo/chat', :t, :t) RETURNING id"
            ),
            {"u": s.member_id, "w": s.workspace_id, "t": when},
        ).scalar_one()
        for role, content, cost in (("user", "hi", None), ("assistant", "hello", 234_000)):
            conn.execute(
                sa.text(
                    "INSERT INTO messages (conversation_id, role, content, credits, created_at) "
                    "VALUES (:c, :r, :x, :k, :t)"
                ),
                {"c": conversation_id, "r": role, "x": content, "k": cost, "t": when},
            )

    app_schema.migrate(engine)
    store = Conversations(engine)
    [listed] = store.page(s.member_id, s.workspace_id, search="HELLO").items
    assert (listed.id, listed.title, listed.updated_at) == (conversation_id, "old chat", when)
    saved = store.messages(s.member_id, conversation_id)
    assert [(m.role, m.content, m.credits) for m in saved] == [
        ("user", "hi", None),
        ("assistant", "hello", credits("0.234")),
    ]
    assert all(
        (m.input_tokens, m.output_tokens, m.duration_ms, m.attachments, m.created_at)
        == (None, None, None, (), when)
        for m in saved
    )
    engine.dispose()


def test_a005_goes_back_to_a004_and_up_again_keeping_the_messages(db_url: str) -> None:
    engine = db.create_engine(db_url)
    migrate_all(engine)
    book = Ledger(engine)
    s = seed(book, credits(5))
    store = Conversations(engine)
    kept = store.create(s.member_id, s.workspace_id, "kept")
    store.add_message(s.member_id, kept.id, "user", "look", attachments=[PICTURE, NOTES])
    store.add_message(s.member_id, kept.id, "assistant", "a cat", credits=7, input_tokens=9)
    binned = store.create(s.member_id, s.workspace_id, "binned")
    store.add_message(s.member_id, binned.id, "user", "forget me")
    store.delete(s.member_id, binned.id)

    db.migrate_down(engine, "a004", location=app_schema.MIGRATIONS)
    assert revisions(engine).app == "a004"
    assert "message_attachments" not in sa.inspect(engine).get_table_names()
    assert "deleted_at" not in columns(engine, "conversations")
    assert not NEW_COLUMNS["messages"] & columns(engine, "messages")
    found = {
        (i["name"], bool(i["unique"])) for i in sa.inspect(engine).get_indexes("conversations")
    }
    assert found == {("ix_conversations_user_id_updated_at", False)}
    # Read as a004's code reads them: the binned conversation is deleted for good.
    assert rows(engine, "SELECT id, title FROM conversations ORDER BY id") == [(kept.id, "kept")]
    assert rows(engine, "SELECT conversation_id, content, credits FROM messages ORDER BY id") == [
        (kept.id, "look", None),
        (kept.id, "a cat", 7),
    ]

    app_schema.migrate(engine)
    assert revisions(engine).app == APP_HEAD
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [kept.id]
    assert [
        (m.content, m.attachments, m.input_tokens) for m in store.messages(s.member_id, kept.id)
    ] == [
        ("look", (), None),
        ("a cat", (), None),
    ]
    assert book.balance(s.account_id).balance == credits(5)
    engine.dispose()
