"""The app's own tables migrate like the ledger's (own version table, one transaction), match the
code's description of them, and cascade only where a row means nothing without its parent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger import db
from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import seed
from workbench.chat.conversations import Conversations
from workbench.db import schema as app_schema

# The app tree's newest revision (later revisions keep what these tests check).
APP_HEAD = ScriptDirectory(str(app_schema.MIGRATIONS)).get_current_head()


def _ours(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    return type_ != "table" or name in app_schema.APP_TABLES


def test_app_tables_match_the_code(db_url: str) -> None:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    app_schema.migrate(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _ours})
        assert compare_metadata(context, app_schema.metadata) == []
        versions = conn.execute(sa.text("SELECT version_num FROM workbench_alembic_version"))
        assert versions.scalar_one() == APP_HEAD
    app_schema.migrate(engine)  # again: nothing to do
    engine.dispose()


def test_purging_a_deleted_conversation_deletes_its_messages(ledger: Ledger) -> None:
    app_schema.migrate(ledger.engine)
    s = seed(ledger, 0)
    store = Conversations(ledger.engine)
    conversation = store.create(s.member_id, s.workspace_id, "hello")
    store.add_message(s.member_id, conversation.id, "user", "hello")
    store.delete(s.member_id, conversation.id)  # to the bin: undoable, messages kept
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one() == 1
    assert store.purge_deleted(timedelta(0)) == 1
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one() == 0


def _costs(engine: sa.Engine, conversation_id: int) -> list[int | None]:
    """What the conversation's messages cost, read as any revision's code reads it (today's
    ``Conversations`` reads columns a005 adds)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT credits FROM messages WHERE conversation_id = :c ORDER BY id"),
            {"c": conversation_id},
        )
        return list(rows.scalars())


def test_a002_keeps_what_replies_cost_in_micro_credits(db_url: str) -> None:
    """Messages saved when costs were whole credits are converted in place, and back."""
    engine = db.create_engine(db_url)
    db.migrate(engine)
    db.migrate(engine, "a001", location=app_schema.MIGRATIONS)
    book = Ledger(engine)
    s = seed(book, 0)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    # Written as revision a001's code wrote them.
    with engine.begin() as conn:
        conversation_id = conn.execute(
            sa.text(
                "INSERT INTO conversations (user_id, workspace_id, title, created_at, updated_at) "
                "VALUES (:u, :w, 'costs', :t, :t) RETURNING id"
            ),
            {"u": s.member_id, "w": s.workspace_id, "t": now},
        ).scalar_one()
        for role, content, hold_id, cost in (
            ("user", "hi", None, None),
            ("assistant", "one", 1, 3),
            ("assistant", "two", 2, 0),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO messages (conversation_id, role, content, hold_id, credits, "
                    "created_at) VALUES (:c, :r, :x, :h, :k, :t)"
                ),
                {"c": conversation_id, "r": role, "x": content, "h": hold_id, "k": cost, "t": now},
            )

    app_schema.migrate(engine)
    store = Conversations(engine)
    saved = [m.credits for m in store.messages(s.member_id, conversation_id)]
    assert saved == [None, credits(3), 0]

    db.migrate_down(engine, "a001", location=app_schema.MIGRATIONS)
    assert _costs(engine, conversation_id) == [None, 3, 0]
    app_schema.migrate(engine)
    store.add_message(
        s.member_id, conversation_id, "assistant", "three", hold_id=3, credits=credits("0.234")
    )
    with pytest.raises(RuntimeError, match="not a whole credit"):
        db.migrate_down(engine, "a001", location=app_schema.MIGRATIONS)
    saved = [m.credits for m in store.messages(s.member_id, conversation_id)]
    assert saved == [None, credits(3), 0, 234_000]
    engine.dispose()
