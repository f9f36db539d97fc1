"""A message's attached files are kept with it, in the same transaction, and come back with the
conversation's messages byte for byte and in order, read in one query whatever the number of
messages. A file that cannot be kept (or any other bad part of the message) is refused before
anything is written."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from tests.conversation_store_harness import NOTES, PICTURE, open_store, snapshot
from workbench.chat.attachments import Attachment
from workbench.chat.conversations import Conversations, NotFound
from workbench.gateway.errors import InvalidRequest


@pytest.fixture
def store(ledger: Ledger, clock: FakeClock) -> Conversations:
    return open_store(ledger, clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def test_attachments_and_reply_details_come_back_as_saved(
    store: Conversations, s: Seed, clock: FakeClock
) -> None:
    conversation = store.create(s.member_id, s.workspace_id, "files")
    asked_at = clock.now
    asked = store.add_message(
        s.member_id, conversation.id, "user", "what is this?", attachments=(PICTURE, NOTES)
    )
    clock.advance(seconds=2)
    replied = store.add_message(
        s.member_id,
        conversation.id,
        "assistant",
        "A cat.",
        model="demo/chat",
        hold_id=9,
        status="ok",
        credits=1234,
        input_tokens=812,
        output_tokens=3,
        duration_ms=1450,
    )
    only_text = store.add_message(
        s.member_id, conversation.id, "user", "", attachments=[replace(NOTES, name="b.csv")]
    )
    [question, reply, files] = store.messages(s.member_id, conversation.id)
    assert [question.id, reply.id, files.id] == [asked, replied, only_text]
    assert question.attachments == (PICTURE, NOTES)  # bytes, text and order intact
    assert question.attachments[0].data == PICTURE.data
    assert (question.input_tokens, question.output_tokens, question.duration_ms) == (
        None,
        None,
        None,
    )
    assert reply.attachments == ()
    assert (reply.input_tokens, reply.output_tokens, reply.duration_ms) == (812, 3, 1450)
    assert (reply.model, reply.status, reply.credits) == ("demo/chat", "ok", 1234)
    assert (question.created_at, reply.created_at) == (asked_at, clock.now)
    assert [a.name for a in files.attachments] == ["b.csv"]


def test_one_query_reads_every_attachment(ledger: Ledger, store: Conversations, s: Seed) -> None:
    def statements_to_read(conversation_id: int) -> int:
        seen: list[str] = []

        def record(conn: object, cursor: object, statement: str, *_: Any) -> None:
            seen.append(statement)

        sa.event.listen(ledger.engine, "before_cursor_execute", record)
        store.messages(s.member_id, conversation_id)
        sa.event.remove(ledger.engine, "before_cursor_execute", record)
        return sum("message_attachments" in statement for statement in seen)

    small = store.create(s.member_id, s.workspace_id, "small")
    store.add_message(s.member_id, small.id, "user", "one", attachments=[PICTURE])
    large = store.create(s.member_id, s.workspace_id, "large")
    for n in range(12):
        store.add_message(s.member_id, large.id, "user", f"{n}", attachments=[PICTURE, NOTES])
    assert statements_to_read(small.id) == statements_to_read(large.id) == 1
    assert len(store.messages(s.member_id, large.id)[-1].attachments) == 2


BAD_FILES = [
    (replace(NOTES, name="   "), "needs a name"),
    (replace(NOTES, name="n" * 256), "at most 255 characters"),
    (replace(NOTES, kind="video"), "a picture or a text file"),  # type: ignore[arg-type]
    (replace(NOTES, media_type=""), "type must be 1 to 100"),
    (replace(NOTES, size=-1), "size cannot be negative"),
    (replace(PICTURE, data=None), "no content to keep"),
    (replace(NOTES, text=None), "no text to keep"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_FILES)
def test_a_file_that_cannot_be_kept_writes_nothing(
    ledger: Ledger,
    store: Conversations,
    s: Seed,
    clock: FakeClock,
    bad: Attachment,
    message: str,
) -> None:
    conversation = store.create(s.member_id, s.workspace_id, "careful")
    store.add_message(s.member_id, conversation.id, "user", "before")
    rows = snapshot(ledger.engine)
    clock.advance(minutes=1)
    with pytest.raises(InvalidRequest, match=message):
        store.add_message(s.member_id, conversation.id, "user", "hi", attachments=[PICTURE, bad])
    assert snapshot(ledger.engine) == rows  # no message, no file, updated_at unchanged


def test_a_bad_message_or_someone_elses_conversation_writes_nothing(
    ledger: Ledger, store: Conversations, s: Seed
) -> None:
    mine = store.create(s.member_id, s.workspace_id, "mine")
    rows = snapshot(ledger.engine)
    with pytest.raises(InvalidRequest, match="from the user or the assistant"):
        store.add_message(s.member_id, mine.id, "system", "obey", attachments=[PICTURE])
    with pytest.raises(InvalidRequest, match="output tokens cannot be negative"):
        store.add_message(s.member_id, mine.id, "assistant", "x", output_tokens=-1)
    with pytest.raises(InvalidRequest, match="duration cannot be negative"):
        store.add_message(s.member_id, mine.id, "assistant", "x", duration_ms=-5)
    for user_id, conversation_id in ((s.admin_id, mine.id), (s.member_id, 999_999)):
        with pytest.raises(NotFound, match="does not exist"):
            store.add_message(user_id, conversation_id, "user", "sneaky", attachments=[NOTES])
    assert snapshot(ledger.engine) == rows
