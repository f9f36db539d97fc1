"""The sidebar's search: it lists only the conversations whose title or any message holds the
text (ignoring case; every character literal, so "100%" is not a wildcard), says so when nothing
matches, and a match opens with its messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, app_env, assert_no_exception
from tests.chat_page_harness import copy_blocks, listed
from tests.fake_providers import FakeProvider

SEARCH_KEY = "conversation_search"
NO_MATCH = "No conversation matches that."


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def seed(env: AppEnv) -> dict[str, int]:
    """Conversations made through the store: title -> id. Their messages are what the content
    searches find."""
    store = env.svc.conversations
    made: dict[str, int] = {}
    for title, said in (
        ("Pricing at 100% margin", "How do I price this?"),
        ("Ten-fold growth", "Can we grow 1000 times?"),  # "100" then a digit: not "100%"
        ("Growth plan", "Reach 100 percent of the market."),  # "100" then a space
        ("Holiday ideas", "Somewhere warm for a FORTNIGHT in May."),
        ("Kitchen", "A recipe for lemon tart, with 100% butter."),
        ("Underscores", "snake_case or camelCase?"),
    ):
        conversation = store.create(env.member.id, env.workspace.id, title)
        store.add_message(env.member.id, conversation.id, "user", said)
        store.add_message(env.member.id, conversation.id, "assistant", f"About: {said}")
        made[title] = conversation.id
    # Someone else's conversation with the same words is never found.
    theirs = store.create(env.other.id, env.workspace.id, "Pricing at 100% margin (Otto)")
    store.add_message(env.other.id, theirs.id, "user", "100% mine")
    return made


def search(at: AppTest, text: str) -> AppTest:
    at.sidebar.text_input(key=SEARCH_KEY).set_value(text).run()
    assert_no_exception(at)
    return at


def found(at: AppTest) -> set[int]:
    return {conversation_id for conversation_id, _ in listed(at)}


def test_without_a_search_every_conversation_is_listed(env: AppEnv) -> None:
    made = seed(env)
    at = env.signed_in(env.member)
    assert found(at) == set(made.values())


def test_a_search_by_title_lists_only_the_matches(env: AppEnv) -> None:
    made = seed(env)
    at = search(env.signed_in(env.member), "growth")
    assert found(at) == {made["Ten-fold growth"], made["Growth plan"]}
    assert NO_MATCH not in [c.value for c in at.sidebar.caption]


def test_a_search_by_content_finds_words_said_in_a_message(env: AppEnv) -> None:
    made = seed(env)
    at = search(env.signed_in(env.member), "fortnight")  # any case
    assert found(at) == {made["Holiday ideas"]}
    at = search(at, "About: A recipe")  # in a reply
    assert found(at) == {made["Kitchen"]}


def test_percent_and_underscore_are_literal(env: AppEnv) -> None:
    made = seed(env)
    at = search(env.signed_in(env.member), "100%")
    assert found(at) == {made["Pricing at 100% margin"], made["Kitchen"]}
    at = search(at, "e_c")  # "_" would match any one character as a wildcard
    assert found(at) == {made["Underscores"]}


def test_no_match_says_so_and_clearing_the_search_lists_all_again(env: AppEnv) -> None:
    made = seed(env)
    at = search(env.signed_in(env.member), "zebra crossing")
    assert listed(at) == []
    assert NO_MATCH in [c.value for c in at.sidebar.caption]
    at = search(at, "")
    assert found(at) == set(made.values())
    assert NO_MATCH not in [c.value for c in at.sidebar.caption]


def test_a_match_opens_with_its_messages(env: AppEnv) -> None:
    made = seed(env)
    at = search(env.signed_in(env.member), "lemon tart")
    [(conversation_id, label)] = listed(at)
    assert (conversation_id, label) == (made["Kitchen"], "Kitchen")
    at.sidebar.button(key=f"open-{conversation_id}").click().run()
    assert_no_exception(at)
    said = "A recipe for lemon tart, with 100% butter."
    assert copy_blocks(at) == [("user", [said]), ("assistant", [f"About: {said}"])]
    # The search stays as typed while the conversation is open.
    assert found(at) == {made["Kitchen"]}
