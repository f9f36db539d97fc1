"""Edit and resend, regenerate: ``truncate_from`` deletes a message and every later one of its
conversation (their attachments with them) and nothing else. A message of another conversation,
of someone else's, or one that does not exist is refused, and nothing changes."""

from __future__ import annotations

import pytest

from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.conversation_store_harness import NOTES, PICTURE, count, open_store, snapshot
from workbench.chat.conversations import Conversations, NotFound
from workbench.db.schema import message_attachments


@pytest.fixture
def store(ledger: Ledger, clock: FakeClock) -> Conversations:
    return open_store(ledger, clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def exchange(store: Conversations, s: Seed, title: str) -> tuple[int, list[int]]:
    conversation = store.create(s.member_id, s.workspace_id, title)
    ids = [
        store.add_message(s.member_id, conversation.id, "user", "first", attachments=[NOTES]),
        store.add_message(s.member_id, conversation.id, "assistant", "reply one", credits=3),
        store.add_message(s.member_id, conversation.id, "user", "second", attachments=[PICTURE]),
        store.add_message(s.member_id, conversation.id, "assistant", "reply two", credits=4),
    ]
    return conversation.id, ids


def contents(store: Conversations, s: Seed, conversation_id: int) -> list[str]:
    return [m.content for m in store.messages(s.member_id, conversation_id)]


def test_from_a_message_to_the_end_only_in_that_conversation(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    conversation, ids = exchange(store, s, "edited")
    other, _ = exchange(store, s, "untouched")
    store.truncate_from(s.member_id, conversation, ids[2])  # edit the second question
    assert contents(store, s, conversation) == ["first", "reply one"]
    assert count(ledger.engine, message_attachments) == 3  # the picture went with its message
    new = store.add_message(s.member_id, conversation, "user", "second, edited")
    assert [m.id for m in store.messages(s.member_id, conversation)] == [ids[0], ids[1], new]

    store.truncate_from(s.member_id, conversation, new)  # regenerate-style: the last one only
    assert contents(store, s, conversation) == ["first", "reply one"]
    store.truncate_from(s.member_id, conversation, ids[0])
    assert contents(store, s, conversation) == []
    assert contents(store, s, other) == ["first", "reply one", "second", "reply two"]
    assert count(ledger.engine, message_attachments) == 2


def test_truncating_does_not_move_the_conversation(
    store: Conversations, s: Seed, clock: FakeClock
) -> None:
    conversation, ids = exchange(store, s, "kept in place")
    before = store.get(s.member_id, conversation)
    clock.advance(minutes=1)
    store.truncate_from(s.member_id, conversation, ids[3])
    assert store.get(s.member_id, conversation).updated_at == before.updated_at


def test_a_message_not_in_that_persons_conversation_is_refused(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    conversation, ids = exchange(store, s, "mine")
    _, other_ids = exchange(store, s, "also mine")
    rows = snapshot(ledger.engine)
    for user_id, conversation_id, message_id, message in (
        (s.member_id, conversation, other_ids[1], "not in this conversation"),
        (s.member_id, conversation, 999_999, "not in this conversation"),
        (s.admin_id, conversation, ids[1], "does not exist"),
        (s.member_id, 999_999, ids[1], "does not exist"),
    ):
        with pytest.raises(NotFound, match=message):
            store.truncate_from(user_id, conversation_id, message_id)
    assert snapshot(ledger.engine) == rows
