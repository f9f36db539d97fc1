"""Conversations are per user: listed newest first, renamed and deleted only by their owner, and
someone else's id opens nothing."""

from __future__ import annotations

import pytest

from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import seed
from workbench.chat.conversations import Conversations, NotFound
from workbench.db import schema as app_schema
from workbench.gateway.errors import InvalidRequest


@pytest.fixture
def store(ledger: Ledger) -> Conversations:
    app_schema.migrate(ledger.engine)
    return Conversations(ledger.engine)


def test_owner_lists_opens_renames_and_deletes(ledger: Ledger, store: Conversations) -> None:
    s = seed(ledger, 0)
    first = store.create(s.member_id, s.workspace_id, "  Plan   the offsite  ")
    second = store.create(s.member_id, s.workspace_id, "x" * 200, model="demo/chat")
    assert first.title == "Plan the offsite" and len(second.title) == 80
    store.add_message(s.member_id, first.id, "user", "hi")
    store.add_message(
        s.member_id, first.id, "assistant", "hello", hold_id=7, credits=credits("0.234")
    )
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [first.id, second.id]
    store.rename(s.member_id, second.id, "Renamed")
    assert store.get(s.member_id, second.id).title == "Renamed"
    assert [(m.role, m.content, m.credits) for m in store.messages(s.member_id, first.id)] == [
        ("user", "hi", None),
        ("assistant", "hello", 234_000),  # micro-credits
    ]
    store.delete(s.member_id, first.id)
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [second.id]


def test_someone_elses_conversation_opens_nothing(ledger: Ledger, store: Conversations) -> None:
    s = seed(ledger, 0)
    mine = store.create(s.member_id, s.workspace_id, "private")
    for attempt in (
        lambda: store.get(s.admin_id, mine.id),
        lambda: store.messages(s.admin_id, mine.id),
        lambda: store.rename(s.admin_id, mine.id, "taken"),
        lambda: store.delete(s.admin_id, mine.id),
        lambda: store.add_message(s.admin_id, mine.id, "user", "sneaky"),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert store.get(s.member_id, mine.id).title == "private"
    assert store.messages(s.member_id, mine.id) == []
    assert store.for_user(s.admin_id, s.workspace_id) == []


def test_a_blank_title_is_refused(ledger: Ledger, store: Conversations) -> None:
    s = seed(ledger, 0)
    conversation = store.create(s.member_id, s.workspace_id, "keep me")
    with pytest.raises(InvalidRequest, match="needs a title"):
        store.rename(s.member_id, conversation.id, "   ")
    assert store.get(s.member_id, conversation.id).title == "keep me"
