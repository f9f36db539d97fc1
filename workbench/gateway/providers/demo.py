"""The offline demo provider: a labelled stand-in, so the workbench works with no keys or network.

Replies are deterministic (the same conversation gets the same reply) and built from what was
asked, so a person can try streaming, stopping, costs and history. Images are drawn with Pillow.
Usage is counted with the same token counter the estimate uses, and reported like a provider's.
"""

from __future__ import annotations

import hashlib
import io
import re
import textwrap
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from workbench.gateway import tokens
from workbench.gateway.content import FILE_LABEL, PICTURE_LABEL, parts_of, picture_urls, text_of
from workbench.gateway.providers.base import (
    ChatCall,
    ChatReport,
    ImageBatch,
    ImageCall,
    Message,
    Usage,
)

LABEL = "Demo model (offline): this reply was written by a local program, not by an AI."
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOPWORD_TEXT = (
    "about above after again also because been before being could does doing from have here "
    "into just more most much only other over please same should some such than that their them "
    "then there these they this those through under very were what when where which while will "
    "with would your "
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_OPENINGS = (
    "Here is how I would approach it.",
    "Good question; a short answer first, then the details.",
    "Let me break that down.",
    "A few thoughts on that.",
)


@dataclass(frozen=True)
class _Asked:
    """The last user message: what was typed, and what came with it (attached files' names and
    words, pictures' names), read back from the parts the chat page writes."""

    text: str
    files: tuple[tuple[str, int], ...] = ()
    pictures: tuple[str, ...] = ()


def _last_asked(messages: tuple[Message, ...]) -> _Asked:
    content = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
    if isinstance(content, str):
        return _Asked(content)
    typed: list[str] = []
    files: list[tuple[str, int]] = []
    pictures: list[str] = []
    for part in parts_of(content):
        if part.get("type") == "image_url":
            continue
        text = str(part.get("text", ""))
        first, _, rest = text.partition("\n")
        if first.startswith(FILE_LABEL):
            files.append((first.removeprefix(FILE_LABEL), len(rest.split()) - 2))  # the fences
        elif first.startswith(PICTURE_LABEL) and not rest:
            pictures.append(first.removeprefix(PICTURE_LABEL))
        else:
            typed.append(text)
    unnamed = len(picture_urls(content)) - len(pictures)
    pictures += ["a picture"] * max(0, unnamed)
    return _Asked("\n\n".join(typed), tuple(files), tuple(pictures))


def _digest(messages: tuple[Message, ...]) -> bytes:
    """The conversation as a digest; a picture counts by its own digest, not its megabytes."""

    def cheap(value: object) -> object:
        if isinstance(value, str):
            return value
        urls = picture_urls(value)
        return text_of(value), [hashlib.sha256(url.encode()).hexdigest() for url in urls]

    return hashlib.sha256(
        repr([tuple((k, cheap(v)) for k, v in m.items()) for m in messages]).encode()
    ).digest()


def _attachment_lines(asked: _Asked) -> list[str]:
    lines = [
        f"You attached *{name}* ({words:,} words): a real model would read it with your message."
        for name, words in asked.files
    ]
    if asked.pictures:
        names = ", ".join(f"*{name}*" for name in asked.pictures)
        lines.append(
            f"I can't see pictures (I am a local program), but I received {names}; "
            "a model that sees pictures would look at them."
        )
    return lines


def _keywords(text: str, limit: int = 4) -> list[str]:
    seen: list[str] = []
    for word in _WORD.findall(text):
        lowered = word.lower()
        if lowered not in _STOPWORDS and lowered not in seen:
            seen.append(lowered)
    longest = set(sorted(seen, key=len, reverse=True)[:limit])
    return [word for word in seen if word in longest]


def reply_for(messages: tuple[Message, ...]) -> str:
    """The demo's reply to a conversation: deterministic, labelled, shaped like a real answer."""
    asked = _last_asked(messages)
    text = asked.text.strip()
    digest = _digest(messages)
    words = text.split()
    keywords = _keywords(text) or ["your", "request"]
    turn = sum(1 for m in messages if m.get("role") == "user")
    system = next((text_of(m.get("content")) for m in messages if m.get("role") == "system"), "")
    lines = [
        f"*{LABEL}*",
        "",
        _OPENINGS[digest[0] % len(_OPENINGS)],
        "",
        f"You asked about **{', '.join(keywords)}** "
        f"({len(words)} words; this is turn {turn} of the conversation).",
    ]
    if text.endswith("?"):
        lines.append("Since that is a question, a real model would answer it directly here.")
    lines += _attachment_lines(asked)
    if system:
        lines.append(f"I am following your instructions: “{textwrap.shorten(system, 80)}”.")
    lines += [
        "",
        "Points a real model might cover:",
        *(f"{i}. What matters most about *{word}*." for i, word in enumerate(keywords, 1)),
        "",
        "```text",
        f"summary: {textwrap.shorten(text, 60) or '(empty)'}",
        "```",
        "",
        "Add an OpenAI or Anthropic key (see the README) to talk to a real model.",
    ]
    return "\n".join(lines)


def _pieces(reply: str) -> Iterator[str]:
    """The reply in word-sized pieces that concatenate back to it exactly."""
    yield from re.findall(r"\S+\s*|\s+", reply)


class DemoProvider:
    def __init__(self, stream_delay_s: float = 0.0) -> None:
        self.stream_delay_s = stream_delay_s

    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        reply = reply_for(call.messages)
        model = call.model.litellm_model
        budget = call.max_tokens
        streamed: list[str] = []
        for piece in _pieces(reply):
            # Respect max_tokens like a real model: stop before going past it.
            budget -= tokens.text_tokens(model, piece)
            if budget < 0:
                break
            if self.stream_delay_s:
                time.sleep(self.stream_delay_s)
            streamed.append(piece)
            yield piece
        report.usage = Usage(
            input_tokens=tokens.prompt_tokens(model, call.messages),
            output_tokens=tokens.text_tokens(model, "".join(streamed)),
        )
        report.usd_cost = 0.0

    def generate_images(self, call: ImageCall) -> ImageBatch:
        return ImageBatch(
            tuple(draw(call.prompt, call.size, i) for i in range(call.n)), usd_cost=0.0
        )


def _size(size: str) -> tuple[int, int]:
    width, _, height = size.partition("x")
    return int(width), int(height)


def draw(prompt: str, size: str, index: int = 0) -> bytes:
    """A PNG: a gradient chosen by the prompt, the prompt's words, and a DEMO label."""
    width, height = _size(size)
    digest = hashlib.sha256(f"{prompt}\n{index}".encode()).digest()
    top, bottom = digest[0:3], digest[3:6]
    image = Image.new("RGB", (width, height))
    pixels = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(1, height - 1)
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        pixels.line([(0, y), (width, y)], fill=colour)
    for k in range(4):
        x, y = digest[8 + k] * width // 256, digest[12 + k] * height // 256
        r = max(4, digest[16 + k] * min(width, height) // 1024)
        pixels.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255), width=2)
    font = ImageFont.load_default(size=max(10, width // 24))
    caption = textwrap.fill(prompt, width=max(12, width // max(8, width // 24 * 3 // 5)))
    pixels.multiline_text((width // 16, height // 8), caption, fill=(255, 255, 255), font=font)
    badge = ImageFont.load_default(size=max(10, width // 16))
    pixels.text((width // 16, height - height // 6), f"DEMO #{index + 1}", fill="white", font=badge)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
