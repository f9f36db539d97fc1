"""The app's own tables migrate like the ledger's (own version table, one transaction), match the
code's description of them, and cascade only where a row means nothing without its parent."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ledger import db
from ledger.service import Ledger
from tests.conftest import seed
from workbench.chat.conversations import Conversations
from workbench.db import schema as app_schema


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
        assert versions.scalar_one() == "a001"
    app_schema.migrate(engine)  # again: nothing to do
    engine.dispose()


def test_deleting_a_conversation_deletes_its_messages(ledger: Ledger) -> None:
    app_schema.migrate(ledger.engine)
    s = seed(ledger, 0)
    store = Conversations(ledger.engine)
    conversation = store.create(s.member_id, s.workspace_id, "hello")
    store.add_message(s.member_id, conversation.id, "user", "hello")
    store.delete(s.member_id, conversation.id)
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one() == 0
