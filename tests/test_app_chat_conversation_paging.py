"""The sidebar lists a person's conversations 30 at a time, newest first, with a pagination that
reaches the oldest (before, the list stopped at the 100 newest). A conversation from a late page
opens with its messages; titles too long for the sidebar are cut with an ellipsis, the whole
title as the button's tooltip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, app_env, assert_no_exception
from tests.chat_page_harness import copy_blocks, listed
from tests.fake_providers import FakeProvider
from workbench.chat.conversations import Conversations

COUNT = 130
PER_PAGE = 30
PAGE_KEY = "conversation_page"
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def make_conversations(env: AppEnv, count: int = COUNT) -> list[int]:
    """``count`` conversations of the member's, one a minute (each with a question and a reply
    at its minute), through the store: their ids, oldest first."""
    ids = []
    for n in range(count):
        at = START + timedelta(minutes=n)
        store = Conversations(env.svc.conversations.engine, clock=partial(_at, at))
        made = store.create(env.member.id, env.workspace.id, f"Conversation number {n:03d}")
        store.add_message(env.member.id, made.id, "user", f"Question {n:03d}")
        store.add_message(env.member.id, made.id, "assistant", f"Answer {n:03d}")
        ids.append(made.id)
    return ids


def _at(moment: datetime) -> datetime:
    return moment


def go_to(at: AppTest, page: int) -> AppTest:
    at.sidebar.pagination[0].set_value(page).run()
    assert_no_exception(at)
    return at


def test_the_sidebar_shows_30_and_the_pagination_reaches_the_oldest(env: AppEnv) -> None:
    oldest_first = make_conversations(env)
    newest_first = oldest_first[::-1]
    at = env.signed_in(env.member)
    assert_no_exception(at)

    assert [i for i, _ in listed(at)] == newest_first[:PER_PAGE]
    [pagination] = at.sidebar.pagination
    assert pagination.num_pages == 5
    assert pagination.value == 1
    assert f"{COUNT} conversations" in [c.value for c in at.sidebar.caption]

    for page in (2, 3, 4):
        at = go_to(at, page)
        start = (page - 1) * PER_PAGE
        assert [i for i, _ in listed(at)] == newest_first[start : start + PER_PAGE]

    at = go_to(at, 5)
    last_page = listed(at)
    assert [i for i, _ in last_page] == newest_first[120:]
    assert len(last_page) == COUNT - 4 * PER_PAGE
    assert last_page[-1] == (oldest_first[0], "Conversation number 000")

    # Every conversation was on exactly one page.
    seen = []
    for page in range(1, 6):
        seen += [i for i, _ in listed(go_to(at, page))]
    assert sorted(seen) == sorted(oldest_first)


def test_a_conversation_on_page_5_opens_with_its_messages(env: AppEnv) -> None:
    oldest_first = make_conversations(env)
    at = go_to(env.signed_in(env.member), 5)
    at.sidebar.button(key=f"open-{oldest_first[1]}").click().run()
    assert_no_exception(at)
    assert at.session_state["conversation_id"] == oldest_first[1]
    assert copy_blocks(at) == [("user", ["Question 001"]), ("assistant", ["Answer 001"])]
    # Still on page 5, with the open conversation marked.
    assert at.sidebar.pagination[0].value == 5
    assert at.sidebar.button(key=f"open-{oldest_first[1]}").proto.type == "primary"


def test_a_search_starts_again_from_its_first_page(env: AppEnv) -> None:
    oldest_first = make_conversations(env)
    at = go_to(env.signed_in(env.member), 5)
    at.sidebar.text_input(key="conversation_search").set_value("number 0").run()
    assert_no_exception(at)
    # "number 000" to "number 099": 100 matches on 4 pages, from the first (newest) one.
    matches = oldest_first[:100][::-1]
    assert [i for i, _ in listed(at)] == matches[:PER_PAGE]
    [pagination] = at.sidebar.pagination
    assert (pagination.num_pages, pagination.value) == (4, 1)
    assert [i for i, _ in listed(go_to(at, 4))] == matches[90:]


def test_a_long_title_is_cut_with_an_ellipsis_and_shown_whole_as_its_tooltip(
    env: AppEnv,
) -> None:
    title = "A very long title about *quarterly* planning for the northern region offices"
    store = env.svc.conversations
    made = store.create(env.member.id, env.workspace.id, title)
    at = env.signed_in(env.member)
    [(conversation_id, label)] = listed(at)
    assert conversation_id == made.id
    assert label.endswith("…")
    # The label shows the title's first 39 characters literally (Markdown escaped).
    assert label.replace("\\", "").removesuffix("…") == title[:39].rstrip()
    assert "\\*quarterly\\*" in label
    shown = at.sidebar.button(key=f"open-{made.id}")
    assert shown.help.replace("\\", "") == title
