"""Regenerate the last reply: a new call, held and charged on its own, whose reply takes the old
one's place in the conversation (the request carries the history up to the question, never the
old reply). Refused (too few credits), it loses nothing and charges nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits, credits_text
from tests.app_harness import AppEnv, app_env, assert_no_exception, loose_code
from tests.chat_page_harness import (
    as_sent,
    chat_log,
    chat_page,
    copy_blocks,
    reply_captions,
    send,
    sent,
)
from tests.fake_providers import FakeProvider, ok, reply_for

FIRST = "Name a river in France."
SECOND = "And one in Spain?"
SYSTEM = "Be brief."


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def two_turns(env: AppEnv) -> AppTest:
    at = send(send(chat_page(env, system=SYSTEM), FIRST), SECOND)
    assert_no_exception(at)
    assert [m.role for m in env.messages()] == ["user", "assistant", "user", "assistant"]
    return at


def regenerate(at: AppTest) -> AppTest:
    """Press the one Regenerate button (the last reply's)."""
    [pressed] = [b for b in at.button if b.key and b.key.startswith("regenerate-")]
    last_reply = [m for m in at.chat_message if m.name == "assistant"][-1]
    assert pressed.key in {b.key for b in last_reply.button}
    return pressed.click().run()


def test_only_the_last_reply_can_be_regenerated(env: AppEnv) -> None:
    at = two_turns(env)
    last = env.messages()[-1]
    assert [b.key for b in at.button if b.key and b.key.startswith("regenerate-")] == [
        f"regenerate-{last.id}"
    ]


def test_regenerate_is_a_new_charged_call_that_replaces_the_last_reply(env: AppEnv) -> None:
    at = two_turns(env)
    before = env.available()
    old = env.messages()
    old_reply = old[-1].content
    [first_reply] = [m.content for m in old if m.role == "assistant"][:1]
    assert env.fake is not None
    env.fake.program(ok(reply_words=20))  # a different reply, to tell the two apart

    at = regenerate(at)
    assert_no_exception(at)
    assert at.error == []

    # The request for it: the history up to the question, not the reply it replaces.
    assert sent(env)["messages"] == [
        as_sent("system", SYSTEM),
        as_sent("user", FIRST),
        as_sent("assistant", first_reply),
        as_sent("user", SECOND),
    ]
    new_reply = reply_for(sent(env)["messages"], reply_words=20)
    assert new_reply != old_reply

    # Billed on its own: three holds captured, three usage rows, the balance fell by the third.
    holds, usage = env.holds(), env.usage_rows()
    assert [h.status for h in holds] == ["captured"] * 3
    assert [u.status for u in usage] == ["ok"] * 3
    assert [u.hold_id for u in usage] == [h.id for h in holds]
    assert [u.credits for u in usage] == [h.captured for h in holds]
    assert before - env.available() == usage[-1].credits > 0
    assert env.held() == 0

    # The old reply (and the question it answered) gave way to the question and the new reply.
    saved = env.messages()
    assert [(m.role, m.content) for m in saved] == [
        ("user", FIRST),
        ("assistant", first_reply),
        ("user", SECOND),
        ("assistant", new_reply),
    ]
    assert [m.id for m in saved[:2]] == [m.id for m in old[:2]]
    assert saved[-1].hold_id == holds[-1].id
    assert saved[-1].credits == usage[-1].credits

    # On screen: the new reply, with its own cost and tokens in its caption.
    assert [name for name, _ in chat_log(at)] == ["user", "assistant", "user", "assistant"]
    assert copy_blocks(at)[-1] == ("assistant", [new_reply])
    caption = reply_captions(at)[-1]
    tokens = f"{usage[-1].input_tokens:,} → {usage[-1].output_tokens:,} tokens"
    expected = re.escape(f"{credits_text(usage[-1].credits)} · {tokens} · ") + r"\d+\.\d s"
    assert re.fullmatch(expected, caption), caption
    assert reply_captions(at)[0].startswith(credits_text(usage[0].credits) + " · ")


def test_a_refused_regenerate_loses_nothing_and_charges_nothing(env: AppEnv) -> None:
    at = two_turns(env)
    # An operator takes all but a hundredth of a credit back: too little for GPT-4o mini's hold.
    env.svc.ledger.adjust(
        env.account_id,
        credits("0.01") - env.available(),
        actor_user_id=env.operator.id,
        reason="test: too few credits",
        key="drain",
    )
    balance = env.svc.ledger.balance(env.account_id)
    saved = env.messages()
    holds = env.holds()
    assert env.fake is not None
    requests = len(env.api_requests())

    at = regenerate(at)
    assert_no_exception(at)
    [error] = at.error
    assert "Not enough credits" in error.value
    assert "Nothing was charged" in error.value
    assert loose_code(at) == [SECOND]  # the question, to copy
    # Shown whole at once (the run that tried showed it only up to the question), the
    # refusal under it.
    assert [text for _, [text] in copy_blocks(at)] == [m.content for m in env.messages()]

    # Nothing lost: both turns still saved as they were; nothing sent, held or charged.
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
    assert len(env.usage_rows()) == 3
    assert "submission" not in at.session_state

    # The next run shows the whole conversation, the old reply with its Regenerate button.
    at.run()
    assert_no_exception(at)
    assert at.error == []
    assert [text for _, [text] in copy_blocks(at)] == [m.content for m in saved]
    assert f"regenerate-{saved[-1].id}" in {b.key for b in at.button}


def test_a_reply_followed_by_an_unanswered_question_cannot_be_regenerated(env: AppEnv) -> None:
    """A question left without a reply (its turn was released unsent) ends the conversation:
    regenerating the reply before it would silently drop it. That question is sent again with
    Edit instead, in its place."""
    store = env.svc.conversations
    made = store.create(env.member.id, env.workspace.id, FIRST, None, None)
    store.add_message(env.member.id, made.id, "user", FIRST)
    store.add_message(env.member.id, made.id, "assistant", "The Loire.")
    unanswered = store.add_message(env.member.id, made.id, "user", SECOND)
    at = chat_page(env)
    at.sidebar.button(key=f"open-{made.id}").click().run()
    assert_no_exception(at)
    assert [b.key for b in at.button if b.key and b.key.startswith("regenerate-")] == []

    at.button(key=f"resend-{unanswered}").click().run()
    assert_no_exception(at)
    assert sent(env)["messages"] == [
        as_sent("user", FIRST),
        as_sent("assistant", "The Loire."),
        as_sent("user", SECOND),
    ]
    assert [(m.role, m.content) for m in env.messages()][:3] == [
        ("user", FIRST),
        ("assistant", "The Loire."),
        ("user", SECOND),
    ]
    assert [m.role for m in env.messages()] == ["user", "assistant", "user", "assistant"]
