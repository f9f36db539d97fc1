"""A conversation remembers the model and system prompt chosen for it. Changing them does not
move it in the list (``updated_at`` stays); blank clears; only the owner can change them, and a
refused change changes nothing."""

from __future__ import annotations

import pytest

from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.conversation_store_harness import open_store, snapshot
from workbench.chat.conversations import Conversations, NotFound
from workbench.gateway.errors import InvalidRequest


@pytest.fixture
def store(ledger: Ledger, clock: FakeClock) -> Conversations:
    return open_store(ledger, clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def test_settings_are_remembered_without_reordering_the_list(
    store: Conversations, s: Seed, clock: FakeClock
) -> None:
    older = store.create(s.member_id, s.workspace_id, "older", model="demo/chat")
    clock.advance(seconds=1)
    newer = store.create(s.member_id, s.workspace_id, "newer")
    clock.advance(minutes=3)
    prompt = "  Answer in *French*.\n<b>Always</b>  "
    store.set_settings(s.member_id, older.id, model="demo/other", system_prompt=prompt)
    saved = store.get(s.member_id, older.id)
    assert (saved.model, saved.system_prompt) == ("demo/other", prompt)
    assert saved.updated_at == older.updated_at
    assert [c.id for c in store.for_user(s.member_id, s.workspace_id)] == [newer.id, older.id]


def test_none_or_blank_clears(store: Conversations, s: Seed) -> None:
    conversation = store.create(
        s.member_id, s.workspace_id, "set", model="demo/chat", system_prompt="Be brief."
    )
    store.set_settings(s.member_id, conversation.id, model=None, system_prompt=None)
    cleared = store.get(s.member_id, conversation.id)
    assert (cleared.model, cleared.system_prompt) == (None, None)
    store.set_settings(s.member_id, conversation.id, model="demo/chat", system_prompt="x")
    store.set_settings(s.member_id, conversation.id, model="  ", system_prompt=" \n\t")
    cleared = store.get(s.member_id, conversation.id)
    assert (cleared.model, cleared.system_prompt) == (None, None)


def test_someone_elses_or_unknown_conversation_is_refused(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    mine = store.create(s.member_id, s.workspace_id, "mine", model="demo/chat")
    rows = snapshot(ledger.engine)
    for user_id, conversation_id in ((s.admin_id, mine.id), (s.member_id, 999_999)):
        with pytest.raises(NotFound, match="does not exist"):
            store.set_settings(user_id, conversation_id, model="taken", system_prompt="taken")
    assert snapshot(ledger.engine) == rows


def test_a_model_name_longer_than_its_column_is_refused(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    conversation = store.create(s.member_id, s.workspace_id, "long", model="demo/chat")
    rows = snapshot(ledger.engine)
    with pytest.raises(InvalidRequest, match="at most 200 characters"):
        store.set_settings(s.member_id, conversation.id, model="m" * 201, system_prompt="kept?")
    with pytest.raises(InvalidRequest, match="at most 200 characters"):
        store.create(s.member_id, s.workspace_id, "new", model="m" * 201)
    assert snapshot(ledger.engine) == rows
