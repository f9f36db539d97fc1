"""Searching the list finds conversations whose title or any message holds the text, ignoring
case, with every character literal (``%``, ``_``, ``/`` and ``\\`` are not wildcards or escapes),
only among the person's own conversations in that workspace that are not deleted."""

from __future__ import annotations

import pytest

from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.conversation_store_harness import open_store, snapshot
from workbench.chat.conversations import Conversations
from workbench.gateway.errors import InvalidRequest


@pytest.fixture
def store(ledger: Ledger, clock: FakeClock) -> Conversations:
    return open_store(ledger, clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def found(store: Conversations, s: Seed, search: str | None) -> list[str]:
    page = store.page(s.member_id, s.workspace_id, search=search)
    assert page.total == len(page.items)
    return [c.title for c in page.items]


def make(store: Conversations, s: Seed, clock: FakeClock, title: str, *texts: str) -> int:
    clock.advance(seconds=1)
    conversation = store.create(s.member_id, s.workspace_id, title)
    for text in texts:
        store.add_message(s.member_id, conversation.id, "user", text)
    return conversation.id


def test_title_or_any_message_ignoring_case(
    store: Conversations, s: Seed, clock: FakeClock
) -> None:
    make(store, s, clock, "Plan the offsite")
    make(store, s, clock, "Budget", "What did the OFFSITE cost?", "and the offsite hotel")
    make(store, s, clock, "Unrelated", "nothing here")
    assert found(store, s, "offsite") == ["Budget", "Plan the offsite"]  # once each, newest first
    assert found(store, s, "PLAN") == ["Plan the offsite"]
    assert found(store, s, "  hotel  ") == ["Budget"]  # the edges' spaces are not searched
    assert found(store, s, "missing") == []


def test_blank_search_is_no_search(store: Conversations, s: Seed, clock: FakeClock) -> None:
    make(store, s, clock, "one")
    make(store, s, clock, "two")
    for blank in (None, "", "   ", "\t\n"):
        assert found(store, s, blank) == ["two", "one"]


def test_typed_wildcards_match_only_themselves(
    store: Conversations, s: Seed, clock: FakeClock
) -> None:
    make(store, s, clock, "a", "growth of 100%")
    make(store, s, clock, "b", "growth of 1000 or 100 percent")
    make(store, s, clock, "snake_case")
    make(store, s, clock, "snakeXcase")
    make(store, s, clock, "path a/b")
    make(store, s, clock, "path ab")
    make(store, s, clock, "back\\slash")
    make(store, s, clock, "backslash")
    assert found(store, s, "100%") == ["a"]
    assert found(store, s, "%") == ["a"]
    assert found(store, s, "_") == ["snake_case"]
    assert found(store, s, "e_c") == ["snake_case"]
    assert found(store, s, "a/b") == ["path a/b"]
    assert found(store, s, "/") == ["path a/b"]
    assert found(store, s, "k\\s") == ["back\\slash"]
    assert found(store, s, "'; DROP TABLE messages; --") == []


def test_only_the_persons_own_live_conversations_in_the_workspace(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    other = seed(ledger, 0, slug="globex")
    mine = make(store, s, clock, "mine", "secret plan")
    store.create(s.admin_id, s.workspace_id, "admin's secret plan")
    ledger.add_member(other.workspace_id, s.member_id, "member")
    store.create(s.member_id, other.workspace_id, "secret plan elsewhere")
    gone = make(store, s, clock, "deleted", "secret plan too")
    store.delete(s.member_id, gone)
    assert found(store, s, "secret") == ["mine"]
    store.restore(s.member_id, gone)
    assert found(store, s, "secret") == ["deleted", "mine"]
    assert [c.id for c in store.page(s.member_id, s.workspace_id, search="mine").items] == [mine]


def test_search_total_counts_every_page(store: Conversations, s: Seed, clock: FakeClock) -> None:
    for n in range(7):
        make(store, s, clock, f"report {n}" if n % 2 else f"memo {n}")
    page = store.page(s.member_id, s.workspace_id, search="REPORT", offset=1, limit=2)
    assert (page.total, page.offset, page.limit) == (3, 1, 2)
    assert [c.title for c in page.items] == ["report 3", "report 1"]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite folds ASCII only
def test_letters_beyond_ascii_ignore_case_on_postgresql(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    """SQLite's lower() folds ASCII letters only (documented); PostgreSQL folds every letter."""
    make(store, s, clock, "Äpfel und Birnen")
    assert found(store, s, "äpfel") == ["Äpfel und Birnen"]


def test_a_bad_window_is_refused_and_changes_nothing(
    ledger: Ledger, store: Conversations, s: Seed, clock: FakeClock
) -> None:
    make(store, s, clock, "kept", "hello")
    before = snapshot(ledger.engine)
    with pytest.raises(InvalidRequest, match="cannot start before the first"):
        store.page(s.member_id, s.workspace_id, search="kept", offset=-1)
    for limit in (0, -5, 201):
        with pytest.raises(InvalidRequest, match="1 to 200 conversations"):
            store.page(s.member_id, s.workspace_id, search="kept", limit=limit)
    assert snapshot(ledger.engine) == before
