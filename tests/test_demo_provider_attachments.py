"""The offline demo with files attached: its reply says what it was given (it reads the text
files' size, and says plainly it cannot see pictures, naming them), answers the typed question
rather than the files' words, and its usage counts the pictures as the estimate does."""

from __future__ import annotations

import io

from PIL import Image

from ledger.pricing import token_cost
from tests.gateway_harness import Harness
from workbench.chat.attachments import Attachment, read_attachment, user_content
from workbench.gateway import tokens
from workbench.gateway.providers.base import Message
from workbench.gateway.providers.demo import LABEL, reply_for

QUESTION = "How should I plan a vegetable garden on a small balcony?"
NOTES = b"Tomatoes need six hours of sunshine; basil grows beside them.\n"


def png(colour: tuple[int, int, int] = (40, 160, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, format="PNG")
    return out.getvalue()


def conversation(text: str, *files: Attachment) -> tuple[Message, ...]:
    return ({"role": "user", "content": user_content(text, files)},)


def test_the_reply_names_the_files_and_answers_the_typed_question() -> None:
    photo = read_attachment("balcony.jpg.png", None, png())
    notes = read_attachment("plants.md", None, NOTES)
    reply = reply_for(conversation(QUESTION, photo, notes))

    assert LABEL in reply
    assert "You attached *plants.md* (10 words)" in reply
    assert "I can't see pictures (I am a local program), but I received *balcony.jpg.png*" in reply
    assert "**vegetable, garden, small, balcony**" in reply  # the question's words, not the file's
    assert "tomatoes" not in reply.lower()
    assert reply == reply_for(conversation(QUESTION, photo, notes))
    assert "You attached" not in reply_for(conversation(QUESTION))


def test_files_alone_are_a_message_the_demo_answers() -> None:
    reply = reply_for(conversation("", read_attachment("plants.md", None, NOTES)))
    assert "You attached *plants.md* (10 words)" in reply


def test_its_usage_counts_the_picture_as_the_hold_did(harness: Harness) -> None:
    model = "demo/chat"
    photo = read_attachment("balcony.png", None, png())
    messages = [{"role": "user", "content": user_content(QUESTION, [photo])}]
    estimate = harness.gateway.estimate_chat(messages, model=model)

    turn = harness.gateway.chat(harness.caller, messages, key="demo-files", model=model)
    text = "".join(turn)

    result = turn.result
    assert result is not None and result.status == "ok" and "balcony.png" in text
    plain = tokens.prompt_tokens(model, [{"role": "user", "content": user_content(QUESTION, [])}])
    picture = tokens.picture_tokens(model, 640, 480)
    assert picture > 0
    assert result.usage.input_tokens == estimate.prompt_tokens
    # The picture's figure, plus the few tokens of its label part ("Attached picture: ...").
    assert plain + picture < result.usage.input_tokens < plain + picture + 20
    usage = result.usage
    expected = token_cost(harness.ledger.price(model), usage.input_tokens, usage.output_tokens)
    assert result.credits == expected <= (turn.hold.amount if turn.hold else 0)
    assert harness.fake.api_requests() == []
