"""The list comes a page at a time, newest first with the id breaking ties: every conversation is
on exactly one page however many there are (well past 100), ``total`` counts them all, and the
list's query reads its partial index in order (no sort)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.conversation_store_harness import open_store
from workbench.chat.conversations import ConversationPage, Conversations

MANY = 130


@pytest.fixture
def store(ledger: Ledger, clock: FakeClock) -> Conversations:
    return open_store(ledger, clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def create_many(store: Conversations, s: Seed, clock: FakeClock) -> list[int]:
    """``MANY`` conversations, oldest first; every tenth shares its time with the one before it,
    so the order needs the id to break ties."""
    ids = []
    for n in range(MANY):
        if n % 10:
            clock.advance(seconds=1)
        ids.append(store.create(s.member_id, s.workspace_id, f"conversation {n}").id)
    return ids


def all_pages(store: Conversations, s: Seed, limit: int) -> list[ConversationPage]:
    pages = []
    offset = 0
    while True:
        page = store.page(s.member_id, s.workspace_id, offset=offset, limit=limit)
        pages.append(page)
        if not page.items:
            return pages
        offset += limit


@pytest.mark.parametrize("limit", [50, 7])
def test_every_conversation_on_exactly_one_page_newest_first(
    store: Conversations, s: Seed, clock: FakeClock, limit: int
) -> None:
    ids = create_many(store, s, clock)
    pages = all_pages(store, s, limit)
    assert all(p.total == MANY and p.limit == limit for p in pages)
    assert [p.offset for p in pages] == list(range(0, MANY + limit, limit))[: len(pages)]
    assert all(len(p.items) == limit for p in pages[:-2])
    assert pages[-1].items == []
    listed = [c.id for p in pages for c in p.items]
    assert listed == ids[::-1]  # newest first, id breaking ties: no duplicate, no gap


def test_for_user_is_the_first_page(store: Conversations, s: Seed, clock: FakeClock) -> None:
    ids = create_many(store, s, clock)
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == ids[::-1][:100]
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id, limit=3)] == ids[:-4:-1]


def test_a_new_message_moves_its_conversation_to_the_top(
    store: Conversations, s: Seed, clock: FakeClock
) -> None:
    ids = [store.create(s.member_id, s.workspace_id, f"c{n}").id for n in range(3)]
    clock.advance(seconds=5)
    store.add_message(s.member_id, ids[0], "user", "back to this one")
    page = store.page(s.member_id, s.workspace_id, limit=2)
    assert ([c.id for c in page.items], page.total) == ([ids[0], ids[2]], 3)


def test_past_the_end_is_an_empty_page_with_the_total(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    store.create(s.member_id, s.workspace_id, "only")
    page = store.page(s.member_id, s.workspace_id, offset=500)
    assert (page.items, page.total, page.offset, page.limit) == ([], 1, 500, 50)
    assert store.page(s.admin_id, s.workspace_id).total == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL plans by its statistics
def test_the_list_reads_its_partial_index_without_sorting(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    store.create(s.member_id, s.workspace_id, "one")
    seen: list[tuple[str, Any]] = []

    def record(conn: object, cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if "ORDER BY" in statement:
            seen.append((statement, parameters))

    sa.event.listen(ledger.engine, "before_cursor_execute", record)
    store.page(s.member_id, s.workspace_id, offset=100, limit=50)
    sa.event.remove(ledger.engine, "before_cursor_execute", record)
    [(statement, parameters)] = seen
    with ledger.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        plan = " | ".join(row[-1] for row in rows)
    assert "USING INDEX ix_conversations_listed" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
