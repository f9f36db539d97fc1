"""Deleting a conversation hides it at once and can be undone; some minutes later the purge
removes it for good with its messages and their attachments (the foreign keys cascade, enforced
on SQLite too). Only the owner can delete or restore, and a refused call changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.conversation_store_harness import NOTES, PICTURE, count, open_store, snapshot
from workbench.chat.conversations import NOT_IN_BIN, Conversations, NotFound
from workbench.db.schema import conversations, message_attachments, messages
from workbench.gateway.errors import InvalidRequest


@pytest.fixture
def store(ledger: Ledger, clock: FakeClock) -> Conversations:
    return open_store(ledger, clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def filled(store: Conversations, s: Seed, title: str) -> int:
    conversation = store.create(s.member_id, s.workspace_id, title)
    store.add_message(s.member_id, conversation.id, "user", "look", attachments=[PICTURE, NOTES])
    store.add_message(s.member_id, conversation.id, "assistant", "a cat", credits=5)
    return conversation.id


def test_deleted_is_gone_everywhere_until_restored_in_its_place(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    older = filled(store, s, "older")
    clock.advance(seconds=1)
    newer = filled(store, s, "newer")
    before = store.get(s.member_id, older)
    saved = store.messages(s.member_id, older)
    [first, _] = saved
    clock.advance(minutes=1)

    store.delete(s.member_id, older)
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [newer]
    assert store.page(s.member_id, s.workspace_id).total == 1
    rows = snapshot(ledger.engine)
    attempts: list[Callable[[], object]] = [
        lambda: store.get(s.member_id, older),
        lambda: store.messages(s.member_id, older),
        lambda: store.add_message(s.member_id, older, "user", "more"),
        lambda: store.rename(s.member_id, older, "new name"),
        lambda: store.set_settings(s.member_id, older, model="x", system_prompt="y"),
        lambda: store.truncate_from(s.member_id, older, first.id),
        lambda: store.delete(s.member_id, older),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound, match="does not exist"):
            attempt()
    assert snapshot(ledger.engine) == rows

    store.restore(s.member_id, older)
    assert store.get(s.member_id, older) == before  # updated_at kept: back in its place
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [newer, older]
    assert store.messages(s.member_id, older) == saved  # attachments included


def test_only_the_owner_deletes_or_restores(ledger: Ledger, store: Conversations, s: Seed) -> None:
    mine = filled(store, s, "mine")
    rows = snapshot(ledger.engine)
    with pytest.raises(NotFound, match="does not exist"):
        store.delete(s.admin_id, mine)
    with pytest.raises(NotFound, match="does not exist"):
        store.delete(s.member_id, 999_999)
    assert snapshot(ledger.engine) == rows

    store.delete(s.member_id, mine)
    rows = snapshot(ledger.engine)
    with pytest.raises(NotFound, match="cannot be brought back"):
        store.restore(s.admin_id, mine)
    assert snapshot(ledger.engine) == rows
    assert store.for_user(s.member_id, s.workspace_id) == []


def test_restoring_what_was_not_deleted_or_is_purged_is_refused(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    live = filled(store, s, "live")
    rows = snapshot(ledger.engine)
    for missing in (live, 999_999):
        with pytest.raises(NotFound) as refused:
            store.restore(s.member_id, missing)
        assert str(refused.value) == NOT_IN_BIN
    assert snapshot(ledger.engine) == rows

    store.delete(s.member_id, live)
    clock.advance(minutes=11)
    assert store.purge_deleted() == 1
    with pytest.raises(NotFound, match="gone for good"):
        store.restore(s.member_id, live)


def test_the_purge_takes_only_what_waited_long_enough_with_its_children(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    first = filled(store, s, "first")
    second = filled(store, s, "second")
    kept = filled(store, s, "kept")
    store.delete(s.member_id, first)
    clock.advance(minutes=5)
    store.delete(s.member_id, second)
    clock.advance(minutes=6)  # first waited 11 minutes, second 6
    assert (count(ledger.engine, messages), count(ledger.engine, message_attachments)) == (6, 6)

    assert store.purge_deleted() == 1
    assert (count(ledger.engine, messages), count(ledger.engine, message_attachments)) == (4, 4)
    assert store.purge_deleted() == 0
    store.restore(s.member_id, second)
    assert [m.content for m in store.messages(s.member_id, second)] == ["look", "a cat"]
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [kept, second]

    store.delete(s.member_id, second)
    assert store.purge_deleted(timedelta(0)) == 1
    assert (count(ledger.engine, messages), count(ledger.engine, message_attachments)) == (2, 2)
    assert store.messages(s.member_id, kept)[0].attachments == (PICTURE, NOTES)


def test_deleting_purges_what_waited_long_enough(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    early = filled(store, s, "early")
    late = filled(store, s, "late")
    store.delete(s.member_id, early)
    clock.advance(minutes=10, seconds=1)
    store.delete(s.member_id, late)
    with ledger.engine.connect() as conn:
        left = conn.execute(sa.select(conversations.c.id).order_by(conversations.c.id))
        assert left.scalars().all() == [late]
    assert count(ledger.engine, message_attachments) == 2  # late's, waiting in the bin


def test_a_negative_age_is_refused(ledger: Ledger, store: Conversations, s: Seed) -> None:
    store.delete(s.member_id, filled(store, s, "binned"))
    rows = snapshot(ledger.engine)
    with pytest.raises(InvalidRequest, match="cannot be negative"):
        store.purge_deleted(timedelta(minutes=-1))
    assert snapshot(ledger.engine) == rows


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL always enforces them
def test_sqlite_connections_enforce_the_cascades(ledger: Ledger, store: Conversations) -> None:
    """The purge relies on ``ON DELETE CASCADE``: SQLite applies it only with foreign keys on."""
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
