"""Files with a chat message, through the gateway and litellm over HTTP to the loopback fakes:
the picture and the text file reach OpenAI and Anthropic in their own formats, the hold counts the
picture by the provider's own figure for its size, the charge is what the provider reported, and
a key replayed with other files is a conflict. Every bad attachment is refused with a sentence
saying what to do, before anything is held, written or sent."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ledger.errors import IdempotencyConflict
from ledger.pricing import chat_estimate, token_cost
from tests.conftest import ROOT
from tests.fake_providers import SVG, ok
from tests.gateway_harness import Harness, HarnessFactory, ask
from tests.test_chat_attachments_read import pdf, png_header
from tests.test_gateway_bad_input import assert_rejected
from workbench.chat.attachments import (
    Attachment,
    check_accepts,
    read_attachment,
    read_uploads,
    user_content,
)
from workbench.gateway import tokens
from workbench.gateway.content import FILE_LABEL, MAX_PICTURE_BYTES, MAX_PICTURES
from workbench.gateway.errors import InvalidRequest
from workbench.gateway.requests import MAX_PROMPT_CHARS, fingerprint

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
NOTES = b"# Tide table\n\n| day | high |\n|-----|------|\n| Mon | 06:12 |\n"


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (20, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def with_files(text: str, *files: Attachment) -> list[dict[str, Any]]:
    return [{"role": "user", "content": user_content(text, files)}]


def picture_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def parts(*items: dict[str, Any] | str) -> list[dict[str, Any]]:
    """A one-message conversation whose content is these parts (a str is a text part)."""
    content = [{"type": "text", "text": i} if isinstance(i, str) else i for i in items]
    return [{"role": "user", "content": content}]


# --- what reaches the provider, what is held, what is charged -----------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_a_picture_and_a_text_file_reach_the_provider_and_are_charged_its_usage(
    harness: Harness, model: str
) -> None:
    photo = read_attachment("photo.png", "image/png", png())
    notes = read_attachment("tides.md", "text/markdown", NOTES)
    messages = with_files("What do these show?", photo, notes)
    estimate = harness.gateway.estimate_chat(messages, model=model)
    # The provider bills what the hold counted for the prompt (the most it may), and a reply.
    harness.fake.program(ok(prompt_tokens=estimate.prompt_tokens, completion_tokens=40))
    before = harness.available()

    turn = harness.gateway.chat(harness.caller, messages, key="files-1", model=model)
    assert turn.hold is not None and turn.hold.amount == estimate.credits
    text = "".join(turn)

    [request] = harness.fake.api_requests()
    sent = request.body["messages"][-1]["content"]
    assert isinstance(sent, list)
    encoded = base64.b64encode(png()).decode()
    if model.startswith("openai/"):
        assert picture_part(f"data:image/png;base64,{encoded}") in sent
    else:
        assert {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": encoded},
        } in sent
    file_text = f"{FILE_LABEL}tides.md\n```\n{NOTES.decode()}\n```"
    assert {"type": "text", "text": file_text} in sent
    assert sent[-1] == {"type": "text", "text": "What do these show?"}

    result = turn.result
    assert text and result is not None and result.status == "ok"
    expected = token_cost(harness.ledger.price(model), estimate.prompt_tokens, 40)
    assert result.credits == expected <= turn.hold.amount
    assert harness.available() == before - expected
    [row] = harness.usage_rows()
    assert (row.input_tokens, row.output_tokens, row.credits) == (
        estimate.prompt_tokens,
        40,
        expected,
    )


@pytest.mark.parametrize(
    ("model", "size", "tokens"),
    [
        # GPT-4o mini: 1024 square fits 2048, shortest side down to 768: 2 by 2 tiles of 512.
        ("openai/gpt-4o-mini", (1024, 1024), 2_833 + 4 * 5_667),
        # 4000 by 1000: fit 2048 (2048 by 512), shortest side already under 768: 4 by 1 tiles.
        ("openai/gpt-4o-mini", (4000, 1000), 2_833 + 4 * 5_667),
        ("openai/gpt-4o", (1024, 1024), 85 + 4 * 170),
        ("openai/gpt-4o", (100, 100), 85 + 170),
        # Claude: width * height / 750, rounded up.
        ("anthropic/claude-haiku-4-5", (1024, 1024), 1_399),
        # Shrunk to about 1,600 tokens at most, however large.
        ("anthropic/claude-sonnet-4-5", (3000, 2000), 1_600),
        # The demo (a model with no listed figure): the larger of OpenAI's and Anthropic's.
        ("demo/chat", (1024, 1024), max(85 + 4 * 170, 1_399)),
    ],
)
def test_a_picture_raises_the_hold_by_the_providers_figure_times_the_price(
    harness: Harness, model: str, size: tuple[int, int], tokens: int
) -> None:
    question = "What is in this picture?"
    without = harness.gateway.estimate_chat(parts(question), model=model)
    url = data_url(png(size))
    with_picture = harness.gateway.estimate_chat(parts(question, picture_part(url)), model=model)

    assert with_picture.prompt_tokens == without.prompt_tokens + tokens
    price = harness.ledger.price(model)
    assert with_picture.credits == chat_estimate(
        price, without.prompt_tokens + tokens, without.max_tokens
    )
    assert price.input_per_mtok is not None
    raised = with_picture.credits - without.credits
    assert abs(raised - tokens * price.input_per_mtok / 1_000_000) <= 1
    assert harness.fake.api_requests() == []


def test_earlier_pictures_are_counted_on_every_turn_they_are_sent(harness: Harness) -> None:
    model = "openai/gpt-4o"
    first = parts("Look at this", picture_part(data_url(png((1024, 1024)))))
    follow_up = [*first, {"role": "assistant", "content": "A blue square."}, *ask("Sure?")]
    alone = harness.gateway.estimate_chat(
        [{"role": "user", "content": "Look at this"}, follow_up[1], follow_up[2]], model=model
    )
    estimate = harness.gateway.estimate_chat(follow_up, model=model)
    assert estimate.prompt_tokens == alone.prompt_tokens + 85 + 4 * 170


def test_messages_without_files_are_sent_and_fingerprinted_as_before(harness: Harness) -> None:
    messages = ask("Tell me about tides")
    assert with_files("Tell me about tides") == messages
    entry = harness.gateway.catalogue.get("openai/gpt-4o-mini")
    assert entry is not None
    full = ({"role": "user", "content": "Tell me about tides"},)
    digest = hashlib.sha256(repr((entry.id, full, 1024, None)).encode()).hexdigest()
    assert fingerprint(entry.id, full, 1024, None) == digest


def test_the_same_key_with_other_files_is_a_conflict(harness: Harness) -> None:
    model = "openai/gpt-4o-mini"
    blue = read_attachment("photo.png", None, png(colour=(0, 0, 255)))
    red = read_attachment("photo.png", None, png(colour=(255, 0, 0)))
    notes = read_attachment("notes.md", None, NOTES)
    "".join(harness.gateway.chat(harness.caller, with_files("?", blue), key="k", model=model))
    before = harness.available()

    again = harness.gateway.chat(harness.caller, with_files("?", blue), key="k", model=model)
    assert again.result is not None and again.result.replayed
    for other in (with_files("?", red), with_files("?", blue, notes), with_files("?")):
        with pytest.raises(IdempotencyConflict):
            harness.gateway.chat(harness.caller, other, key="k", model=model)
    assert harness.available() == before
    assert len(harness.fake.api_requests()) == 1 and len(harness.usage_rows()) == 1


# --- bad input: refused with a clear sentence, nothing held, written or sent ----------------------


@dataclass
class Upload:
    name: str
    type: str | None
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def send(h: Harness, model: str, text: str, *uploads: Upload) -> str:
    """What the chat page does with a message and its files: read them, check the model takes
    them, then send and stream the turn."""
    files = read_uploads(uploads)
    entry = h.gateway.catalogue.get(model)
    assert entry is not None
    check_accepts(entry, files)
    turn = h.gateway.chat(h.caller, with_files(text, *files), key="bad-1", model=model)
    return "".join(turn)


TEXT_ONLY = "openai/gpt-4o-mini-text"
_TEXT_ONLY_ENTRY = f"""
[[model]]
id = "{TEXT_ONLY}"
name = "GPT-4o mini (no pictures)"
provider = "openai"
kind = "chat"
litellm_model = "openai/gpt-4o-mini"
price = "openai/gpt-4o-mini"
context_window = 128000
max_output_tokens = 16384
attachments = ["text"]
"""


@pytest.fixture
def text_only(make_harness: HarnessFactory, tmp_path: Path) -> Harness:
    """A gateway whose catalogue also lists a model that takes text files but no pictures."""
    catalogue = tmp_path / "models.toml"
    shipped = (ROOT / "data" / "models.toml").read_text(encoding="utf-8")
    catalogue.write_text(shipped + _TEXT_ONLY_ENTRY, encoding="utf-8")
    return make_harness(model_catalogue=catalogue)


BIG_PICTURE = Upload("big.png", "image/png", png() + b"\0" * MAX_PICTURE_BYTES)

PAGE_CASES: list[tuple[str, list[Upload], tuple[str, ...]]] = [
    ("too-big", [BIG_PICTURE], ("big.png is 3.76 MB;", "a picture may be at most 3.75 MB")),
    (
        "too-many",
        [Upload(f"n{i}.txt", "text/plain", b"note") for i in range(6)],
        ("6 files are attached; a message can carry at most 5.",),
    ),
    (
        "wrong-type",
        [Upload("slides.pptx", None, b"PK\x03\x04")],
        ("slides.pptx is not a file type chat accepts (pictures: PNG, JPEG, WebP, GIF;",),
    ),
    (
        "fake-png",
        [Upload("photo.png", "image/png", SVG.encode())],
        ("photo.png is not a picture chat can read (it looks like SVG).",),
    ),
    (
        "encrypted-pdf",
        [Upload("secret.pdf", "application/pdf", pdf("x", user_password="pw"))],
        ("secret.pdf is password-protected",),
    ),
    ("empty-text", [Upload("empty.md", "text/markdown", b"")], ("empty.md is empty",)),
]


@pytest.mark.parametrize(
    ("uploads", "words"), [c[1:] for c in PAGE_CASES], ids=[c[0] for c in PAGE_CASES]
)
def test_a_bad_file_is_refused_before_anything_happens(
    harness: Harness, uploads: list[Upload], words: tuple[str, ...]
) -> None:
    assert_rejected(
        harness, lambda: send(harness, "openai/gpt-4o-mini", "hi", *uploads), InvalidRequest, *words
    )


def test_a_picture_for_a_model_without_vision_is_refused(text_only: Harness) -> None:
    h = text_only
    photo = Upload("photo.png", "image/png", png())
    assert_rejected(
        h,
        lambda: send(h, TEXT_ONLY, "What is this?", photo),
        InvalidRequest,
        "GPT-4o mini (no pictures) takes only text files (PDF, Markdown, CSV, TXT), so it cannot "
        "be sent photo.png.",
    )
    # A caller that skips the page's check is refused by the gateway itself, estimate included.
    messages = parts("What is this?", picture_part(data_url(png())))
    words = ("GPT-4o mini (no pictures) does not take pictures, and this conversation has 1",)
    for call in (
        lambda: h.gateway.chat(h.caller, messages, key="nv-1", model=TEXT_ONLY),
        lambda: h.gateway.estimate_chat(messages, model=TEXT_ONLY),
    ):
        assert_rejected(h, call, InvalidRequest, *words)
    # Its text files are welcome.
    h.fake.program(ok())
    assert send(h, TEXT_ONLY, "Summarise", Upload("t.md", None, NOTES))


GATEWAY_CASES: list[tuple[str, object, tuple[str, ...]]] = [
    (
        "remote-picture",
        parts("What is this?", picture_part("https://example.com/cat.png")),
        ("the workbench loads nothing from the web", "'https://example.com/cat.png'"),
    ),
    (
        "svg-data-url",
        parts(picture_part(data_url(SVG.encode(), "image/svg+xml"))),
        ("is not a picture models accept (PNG, JPEG, WebP or GIF",),
    ),
    (
        "not-a-png",
        parts(picture_part(data_url(b"\x89PNG not really"))),
        ("Part 1 of message 1 is labelled image/png but is not a picture of that type.",),
    ),
    (
        "jpeg-labelled-png",
        parts(picture_part(data_url(jpeg()))),
        ("labelled image/png but is not a picture of that type",),
    ),
    ("not-base64", parts(picture_part("data:image/png;base64,***")), ("not valid base64",)),
    (
        "picture-too-big",
        parts(picture_part(data_url(png() + b"\0" * MAX_PICTURE_BYTES))),
        ("is over 3.75 MB; a picture may be at most 3.75 MB",),
    ),
    (
        "too-wide",
        parts(picture_part(data_url(png((8_001, 1))))),
        ("8,001×1 pixels; a picture may be at most 8,000 pixels on a side",),
    ),
    (
        "bomb",
        parts(picture_part(data_url(png_header(30_000, 30_000)))),
        ("Part 1 of message 1 has far too many pixels; a picture may be at most 8,000",),
    ),
    (
        "too-many-pictures",
        parts(*[picture_part(data_url(png())) for _ in range(MAX_PICTURES + 1)]),
        ("carries 21 pictures; at most 20 go to a model in one request",),
    ),
    (
        "image-url-a-string",
        parts({"type": "image_url", "image_url": "data:image/png;base64,AAAA"}),
        ("the image_url of part 1 of message 1 is str",),
    ),
    ("unknown-part", parts({"type": "audio", "data": "..."}), ("part 1 of message 1 is dict",)),
    ("text-not-str", parts({"type": "text", "text": 7}), ("the text of part 1",)),
    (
        "bad-detail",
        parts({"type": "image_url", "image_url": {"url": data_url(png()), "detail": "max"}}),
        ("detail must be auto, low or high",),
    ),
    ("empty-parts", [{"role": "user", "content": []}], ("list of parts is empty",)),
    ("blank-parts", parts(" ", "\n"), ("last message is empty",)),
    (
        "parts-from-the-model",
        [{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}, *ask("and?")],
        ("text content; got 'assistant'",),
    ),
    (
        "parts-too-long",
        parts("x" * (MAX_PROMPT_CHARS // 2), "y" * (MAX_PROMPT_CHARS // 2 + 1)),
        ("The conversation is 200,001 characters; the limit is 200,000.",),
    ),
]


def test_a_picture_on_a_server_is_never_fetched(harness: Harness) -> None:
    """Not by the gateway, nor by counting tokens (litellm's counter fetches a web picture to
    measure it when asked for high detail): the fake server, which serves pictures, sees nothing."""
    url = f"{harness.fake.base_url}/files/cat.png"
    remote = {"type": "image_url", "image_url": {"url": url, "detail": "high"}}
    messages = parts("What is this?", remote)
    for call in (
        lambda: harness.gateway.chat(harness.caller, messages, key="remote", model=MODELS[0]),
        lambda: harness.gateway.estimate_chat(messages, model=MODELS[0]),
        lambda: tokens.prompt_tokens("openai/gpt-4o-mini", messages),
    ):
        assert_rejected(harness, call, InvalidRequest, "the workbench loads nothing from the web")
    assert harness.fake.requests == []


@pytest.mark.parametrize(
    ("messages", "words"), [c[1:] for c in GATEWAY_CASES], ids=[c[0] for c in GATEWAY_CASES]
)
def test_bad_content_parts_are_refused_by_the_gateway(
    harness: Harness, messages: Any, words: tuple[str, ...]
) -> None:
    model = "anthropic/claude-haiku-4-5"
    for call in (
        lambda: harness.gateway.chat(harness.caller, messages, key="parts-1", model=model),
        lambda: harness.gateway.estimate_chat(messages, model=model),
    ):
        assert_rejected(harness, call, InvalidRequest, *words)
