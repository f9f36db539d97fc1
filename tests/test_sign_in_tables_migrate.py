"""Migration a003 adds the sign-in throttle's and the web sessions' tables, with the indexes their
queries use, exactly as the code describes them; going back to a002 drops them and nothing else."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger import db
from ledger.service import Ledger
from tests.conftest import seed
from workbench.chat.conversations import Conversations
from workbench.db import schema as app_schema
from workbench.db.migrate import migrate_all, revisions

NEW_TABLES = {"sign_in_failures", "sign_in_locks", "web_sessions"}
INDEXES = {
    "sign_in_failures": {
        ("ix_sign_in_failures_username_attempted_at", False),
        ("ix_sign_in_failures_address_attempted_at", False),
        ("ix_sign_in_failures_attempted_at", False),
    },
    "sign_in_locks": {
        ("ix_sign_in_locks_scope_key_locked_until", False),
        ("ix_sign_in_locks_locked_until", False),
    },
    "web_sessions": {
        ("ix_web_sessions_token_hash", True),
        ("ix_web_sessions_user_id", False),
        ("ix_web_sessions_created_at", False),
    },
}

# The app tree's newest revision (later revisions keep what these tests check).
APP_HEAD = ScriptDirectory(str(app_schema.MIGRATIONS)).get_current_head()


def _new(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    if type_ == "table":
        return name in NEW_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in NEW_TABLES


def test_a003_adds_the_tables_as_the_code_describes_them(db_url: str) -> None:
    engine = db.create_engine(db_url)
    assert migrate_all(engine).app == APP_HEAD
    inspector = sa.inspect(engine)
    for table, expected in INDEXES.items():
        found = {(i["name"], bool(i["unique"])) for i in inspector.get_indexes(table)}
        assert found == expected, table
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _new})
        assert compare_metadata(context, app_schema.metadata) == []
    engine.dispose()


def test_a003_goes_back_to_a002_and_up_again_keeping_the_rest(db_url: str) -> None:
    engine = db.create_engine(db_url)
    migrate_all(engine)
    book = Ledger(engine)
    s = seed(book, 0)
    store = Conversations(engine)
    conversation = store.create(s.member_id, s.workspace_id, "kept")
    store.add_message(s.member_id, conversation.id, "user", "hello")

    db.migrate_down(engine, "a002", location=app_schema.MIGRATIONS)
    assert revisions(engine).app == "a002"
    assert not NEW_TABLES & set(sa.inspect(engine).get_table_names())
    # Read as a002's code read it (today's code reads columns a005 adds).
    with engine.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT content FROM messages WHERE conversation_id = :c"),
            {"c": conversation.id},
        )
        assert kept.scalars().all() == ["hello"]

    app_schema.migrate(engine)
    assert revisions(engine).app == APP_HEAD
    assert set(sa.inspect(engine).get_table_names()) >= NEW_TABLES
    assert [m.content for m in store.messages(s.member_id, conversation.id)] == ["hello"]
    engine.dispose()
