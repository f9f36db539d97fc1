"""Edit an earlier message of the person's and send it again: that message and everything after it
are replaced by the edited one and its reply (truncate, not branch), the request carries only the
history before it plus the edited text, and it is charged as a call of its own. Refused (too few
credits), it loses nothing and charges nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from tests.app_harness import AppEnv, app_env, assert_no_exception, loose_code
from tests.chat_page_harness import as_sent, chat_page, copy_blocks, send, sent
from tests.fake_providers import FakeProvider, reply_for

FIRST = "Suggest a name for a grey cat."
SECOND = "Something shorter?"
THIRD = "One more, please."
EDITED = "Suggest a name for a ginger kitten."


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def three_turns(env: AppEnv) -> AppTest:
    at = chat_page(env)
    for text in (FIRST, SECOND, THIRD):
        at = send(at, text)
    assert_no_exception(at)
    assert [m.content for m in env.messages() if m.role == "user"] == [FIRST, SECOND, THIRD]
    return at


def edit(at: AppTest, message_id: int, text: str) -> AppTest:
    at.text_area(key=f"edit-text-{message_id}").set_value(text)
    return at.button(key=f"resend-{message_id}").click().run()


def test_the_edit_box_holds_the_message_as_typed(env: AppEnv) -> None:
    at = three_turns(env)
    for message in env.messages():
        if message.role == "user":
            assert at.text_area(key=f"edit-text-{message.id}").value == message.content


def test_editing_the_first_message_replaces_the_whole_conversation(env: AppEnv) -> None:
    at = three_turns(env)
    before = env.available()
    [first, *_] = env.messages()

    at = edit(at, first.id, EDITED)
    assert_no_exception(at)
    assert at.error == []

    # Sent alone: nothing before it, nothing of what followed it.
    assert sent(env)["messages"] == [as_sent("user", EDITED)]
    reply = reply_for([as_sent("user", EDITED)])
    saved = env.messages()
    assert [(m.role, m.content) for m in saved] == [("user", EDITED), ("assistant", reply)]
    # The conversation is the same one, shown as it now is.
    assert len(env.conversations()) == 1
    assert at.session_state["conversation_id"] == env.conversations()[0].id
    assert copy_blocks(at) == [("user", [EDITED]), ("assistant", [reply])]

    # A call of its own: a fourth hold, captured, and its usage row; charged exactly that.
    holds, usage = env.holds(), env.usage_rows()
    assert len(holds) == len(usage) == 4
    assert holds[-1].status == "captured"
    assert usage[-1].hold_id == holds[-1].id
    assert before - env.available() == usage[-1].credits == saved[-1].credits > 0


def test_editing_a_middle_message_keeps_what_came_before_it(env: AppEnv) -> None:
    at = three_turns(env)
    kept = env.messages()[:2]  # the first question and its reply
    second = env.messages()[2]

    at = edit(at, second.id, "  Shorter, and\nwith a *capital*  ")
    assert_no_exception(at)

    edited = "  Shorter, and\nwith a *capital*  "
    assert sent(env)["messages"] == [
        as_sent("user", FIRST),
        as_sent("assistant", kept[1].content),
        as_sent("user", edited),
    ]
    saved = env.messages()
    assert saved[:2] == kept
    assert [(m.role, m.content) for m in saved[2:]] == [
        ("user", edited),
        ("assistant", reply_for(sent(env)["messages"])),
    ]
    assert [name for name, _ in copy_blocks(at)] == ["user", "assistant"] * 2


def test_an_emptied_edit_sends_nothing(env: AppEnv) -> None:
    at = three_turns(env)
    saved, requests, balance = env.messages(), len(env.api_requests()), env.available()
    at = edit(at, saved[2].id, "   \n ")
    assert_no_exception(at)
    assert env.messages() == saved
    assert len(env.api_requests()) == requests
    assert env.available() == balance
    assert len(env.usage_rows()) == 3


def test_a_refused_edit_loses_nothing_and_charges_nothing(env: AppEnv) -> None:
    at = three_turns(env)
    env.svc.ledger.adjust(
        env.account_id,
        credits("0.01") - env.available(),
        actor_user_id=env.operator.id,
        reason="test: too few credits",
        key="drain",
    )
    balance = env.svc.ledger.balance(env.account_id)
    saved, holds, requests = env.messages(), env.holds(), len(env.api_requests())

    at = edit(at, saved[2].id, "Something with two syllables?")
    assert_no_exception(at)
    [error] = at.error
    assert "Not enough credits" in error.value
    assert "Nothing was charged" in error.value
    assert loose_code(at) == ["Something with two syllables?"]  # the edited text, to copy
    # The conversation shown whole again (the messages after the edited one included).
    assert [text for _, [text] in copy_blocks(at)] == [m.content for m in saved]

    assert env.messages() == saved
    assert env.holds() == holds
    assert len(env.api_requests()) == requests
    assert env.svc.ledger.balance(env.account_id) == balance
    refused = env.usage_rows()[-1]
    assert (refused.status, refused.error_type, refused.hold_id, refused.credits) == (
        "refused",
        "InsufficientCredits",
        None,
        0,
    )

    # The next run shows the conversation whole, as it was.
    at.run()
    assert_no_exception(at)
    assert [text for _, [text] in copy_blocks(at)] == [m.content for m in saved]
