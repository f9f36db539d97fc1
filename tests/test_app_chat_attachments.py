"""Files attached in the chat page's message box, on GPT-4o mini (the fake OpenAI server over
litellm): a picture goes to the model as an image part (a data URL of its exact bytes), a text
file as its text; the message shows the files by name, as text; the charge is what the hold
captured. A file that is too big, not what its name says, or binary is refused with one sentence
before anything is held: the typed text is offered back to copy; nothing is charged, held, sent
or saved."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, app_env, assert_no_exception, loose_code
from tests.chat_page_harness import PROMPT_KEY, chat_page, sent
from tests.fake_providers import SVG, FakeProvider
from workbench.chat.attachments import MAX_FILES
from workbench.db.schema import message_attachments
from workbench.gateway.content import FILE_LABEL, MAX_PICTURE_BYTES, PICTURE_LABEL
from workbench.ui.messages import escape_markdown

TYPED = "What is in the picture, and what do my notes say?"
NOTES = "# Notes\n\n- buy *milk*\n- call [Bob](https://bob.test)\n"
PICTURE_NAME = "cat_[1].png"
NOTES_NAME = "notes_*v2*.md"


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def png(width: int = 16, height: int = 12) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def attach(at: AppTest, files: list[tuple[str, bytes, str]], text: str = TYPED) -> AppTest:
    box = at.chat_input(key=PROMPT_KEY)
    for name, data, media_type in files:
        box.upload(name, data, media_type)
    return box.set_value(text).run()


def parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    assert isinstance(content, list), content
    return content


def attachment_rows(env: AppEnv) -> list[Any]:
    with env.svc.ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(message_attachments).order_by(message_attachments.c.id)))


def test_a_picture_and_a_text_file_reach_the_model_and_are_charged_as_held(env: AppEnv) -> None:
    picture = png()
    before = env.available()
    at = attach(
        chat_page(env),
        [(PICTURE_NAME, picture, "image/png"), (NOTES_NAME, NOTES.encode(), "text/markdown")],
    )
    assert_no_exception(at)
    assert at.error == []

    # What the provider was sent: the picture as an image part holding its exact bytes, the
    # file's text, each named, then what was typed.
    [request] = env.api_requests()
    assert request.body["model"] == "gpt-4o-mini"
    [question] = request.body["messages"]
    sent_parts = parts(question)
    images = [p for p in sent_parts if p["type"] == "image_url"]
    assert [p["image_url"]["url"] for p in images] == [
        "data:image/png;base64," + base64.b64encode(picture).decode("ascii")
    ]
    texts = [p["text"] for p in sent_parts if p["type"] == "text"]
    assert f"{PICTURE_LABEL}{PICTURE_NAME}" in texts
    [file_part] = [t for t in texts if t.startswith(FILE_LABEL)]
    assert file_part.startswith(f"{FILE_LABEL}{NOTES_NAME}\n")
    assert NOTES in file_part
    assert texts[-1] == TYPED

    # The person's message shows each file by name, literally (a name is typed text).
    [mine] = [m for m in at.chat_message if m.name == "user"]
    captions = [str(c.value) for c in mine.caption]
    assert any(escape_markdown(PICTURE_NAME) in c for c in captions), captions
    assert any(escape_markdown(NOTES_NAME) in c for c in captions), captions
    assert escape_markdown(NOTES_NAME) != NOTES_NAME  # the check above is of the escaped form

    # Charged exactly what the hold captured, no more than it held; the usage row says so.
    [hold] = env.holds()
    [usage] = env.usage_rows()
    assert hold.status == "captured"
    assert 0 < hold.captured <= hold.amount
    assert (usage.hold_id, usage.status, usage.credits) == (hold.id, "ok", hold.captured)
    assert before - env.available() == usage.credits
    assert env.held() == 0

    # Kept with the message: the picture's bytes and the file's text.
    [user_row, _reply] = env.messages()
    kept = attachment_rows(env)
    assert [(a.message_id, a.name, a.kind) for a in kept] == [
        (user_row.id, PICTURE_NAME, "image"),
        (user_row.id, NOTES_NAME, "text"),
    ]
    assert kept[0].data == picture
    assert kept[1].text == NOTES


def test_the_files_go_again_with_a_follow_up_and_an_edit(env: AppEnv) -> None:
    """The model sees the whole conversation each turn: the earlier message's files go with it;
    an edited message keeps its files."""
    picture = png()
    at = attach(chat_page(env), [(PICTURE_NAME, picture, "image/png")])
    at = at.chat_input(key=PROMPT_KEY).set_value("And its colour?").run()
    assert_no_exception(at)
    first, _reply, follow_up = sent(env)["messages"]
    data_url = "data:image/png;base64," + base64.b64encode(picture).decode("ascii")
    assert [p["image_url"]["url"] for p in parts(first) if p["type"] == "image_url"] == [data_url]
    assert follow_up == {"role": "user", "content": "And its colour?"}

    [question, *_] = env.messages()
    at.text_area(key=f"edit-text-{question.id}").set_value("Describe the picture.")
    at.button(key=f"resend-{question.id}").click().run()
    assert_no_exception(at)
    [edited] = sent(env)["messages"]
    assert [p["image_url"]["url"] for p in parts(edited) if p["type"] == "image_url"] == [data_url]
    assert parts(edited)[-1] == {"type": "text", "text": "Describe the picture."}
    assert [a.name for a in attachment_rows(env)] == [PICTURE_NAME]


def test_files_sent_without_text_start_a_conversation_named_after_them(env: AppEnv) -> None:
    """A new conversation's title is its first message; files alone give it their names (a
    blank title would refuse the turn after its hold was taken)."""
    before = env.available()
    at = attach(
        chat_page(env),
        [(PICTURE_NAME, png(), "image/png"), (NOTES_NAME, NOTES.encode(), "text/markdown")],
        text="",
    )
    assert_no_exception(at)
    assert at.error == []
    [conversation] = env.conversations()
    assert conversation.title == f"{PICTURE_NAME}, {NOTES_NAME}"
    [question] = sent(env)["messages"]
    assert not [
        p
        for p in parts(question)
        if p["type"] == "text" and not p["text"].startswith((PICTURE_LABEL, FILE_LABEL))
    ]
    [hold] = env.holds()
    [usage] = env.usage_rows()
    assert (hold.status, usage.status, usage.credits) == ("captured", "ok", hold.captured)
    assert before - env.available() == usage.credits
    assert [m.role for m in env.messages()] == ["user", "assistant"]


REFUSED = {
    "too-big": (
        [("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(MAX_PICTURE_BYTES), "image/png")],
        "huge.png is 3.76 MB; a picture may be at most 3.75 MB. Attach a smaller copy.",
    ),
    "svg-named-png": (
        [("drawing.png", SVG.encode(), "image/png")],
        "drawing.png is not a picture chat can read",
    ),
    "binary-text": (
        [("data.txt", b"\x00\x01\x02binary", "text/plain")],
        "data.txt holds binary data, not text.",
    ),
    "too-many": (
        [(f"p{n}.png", png(), "image/png") for n in range(MAX_FILES + 1)],
        f"{MAX_FILES + 1} files are attached; a message can carry at most {MAX_FILES}.",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_file_sends_nothing_and_offers_the_text_back(env: AppEnv, case: str) -> None:
    files, sentence = REFUSED[case]
    balance = env.svc.ledger.balance(env.account_id)
    at = attach(chat_page(env), files)
    assert_no_exception(at)

    [error] = at.error
    assert str(error.value).startswith(escape_markdown(sentence)), error.value
    assert "Traceback" not in str(error.value)
    assert loose_code(at) == [TYPED]

    # Nothing charged, held, sent or saved; not even a refusal on record (nothing was asked).
    assert env.svc.ledger.balance(env.account_id) == balance
    assert env.holds() == []
    assert env.usage_rows() == []
    assert env.api_requests() == []
    assert env.conversations() == []
    assert env.messages() == []
    assert attachment_rows(env) == []
    assert "submission" not in at.session_state

    # The next run is quiet, and a message without the file goes through.
    at.run()
    assert at.error == []
    at.chat_input(key=PROMPT_KEY).set_value(TYPED).run()
    assert_no_exception(at)
    assert len(env.api_requests()) == 1
