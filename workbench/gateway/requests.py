"""Checking a request before anything is reserved or called, and what it would hold.

Bad input raises ``InvalidRequest`` with a sentence a person can act on; nothing is written,
charged or called. The checks are plain functions: the gateway calls them first, the estimates
(what a page shows before sending) call the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ledger import pricing
from ledger.pricing import Price, image_cost
from workbench.gateway import tokens
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.content import (
    Picture,
    check_parts,
    check_pictures,
    picture_urls,
    text_of,
)
from workbench.gateway.errors import InvalidRequest
from workbench.gateway.providers.base import Message
from workbench.gateway.results import Estimate

CHAT_FEATURE = "ai_text_chat"
IMAGE_FEATURE = "ai_image_generation"
FEATURE_NAMES = {CHAT_FEATURE: "Chat", IMAGE_FEATURE: "Image generation"}
DEFAULT_MAX_TOKENS = 1024
MAX_PROMPT_CHARS = 200_000
MAX_IMAGE_PROMPT_CHARS = 4_000


def check_chat(
    entry: ModelEntry,
    messages: object,  # checked here: callers pass what a page or a script gave them
    system: str | None,
    max_tokens: int | None,
) -> tuple[tuple[Message, ...], int]:
    """The messages to send (system prompt first) and the reply limit, or ``InvalidRequest``.

    A user's content may be a list of parts (text, and pictures as data URLs: see
    ``content``); what is returned is a checked copy holding only what a provider is sent."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise InvalidRequest("Type a message first: there is nothing to send.")
    checked: list[Message] = []
    total = 0
    pictures: list[Picture] = []
    for number, message in enumerate(messages, 1):
        role, content = _role_and_content(message)
        if isinstance(content, str):
            total += len(content)
            checked.append({"role": role, "content": content})
            continue
        parts, found = check_parts(content, f"message {number}")
        total += sum(len(part["text"]) for part in parts if part["type"] == "text")
        pictures += found
        checked.append({"role": role, "content": parts})
    last = checked[-1]
    if last["role"] != "user":
        raise InvalidRequest("The conversation must end with your message, not the model's.")
    if not text_of(last["content"]).strip() and not picture_urls(last["content"]):
        raise InvalidRequest("Type a message first: the last message is empty.")
    _check_pictures_for(entry, pictures)
    if system is not None:
        if not isinstance(system, str):
            raise InvalidRequest("The system prompt must be text.")
        total += len(system)
        if system.strip():
            checked.insert(0, {"role": "system", "content": system})
    if total > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"The conversation is {total:,} characters; the limit is {MAX_PROMPT_CHARS:,}. "
            "Start a new conversation or shorten the message."
        )
    limit = min(DEFAULT_MAX_TOKENS, entry.max_output_tokens) if max_tokens is None else max_tokens
    if (
        not isinstance(limit, int)
        or isinstance(limit, bool)
        or not 1 <= limit <= entry.max_output_tokens
    ):
        raise InvalidRequest(
            f"The reply length (max_tokens) must be between 1 and {entry.max_output_tokens:,} "
            f"for {entry.name}; got {limit!r:.20}."
        )
    return tuple(checked), limit


def _role_and_content(message: object) -> tuple[str, str | Sequence[object]]:
    """A message's role, and its content: text, or (yours, not the model's) a list of parts."""
    if not isinstance(message, Mapping):
        raise InvalidRequest(
            "Each message needs a role (user or assistant) and text content; got "
            f"{type(message).__name__} {str(message)[:20]!r}."
        )
    role, content = message.get("role"), message.get("content")
    if role not in ("user", "assistant") or not (
        isinstance(content, str)
        or (role == "user" and isinstance(content, Sequence) and not isinstance(content, bytes))
    ):
        raise InvalidRequest(
            "Each message needs a role (user or assistant) and text content; got "
            f"{str(role)[:20]!r}."
        )
    if not isinstance(content, str) and not content:
        raise InvalidRequest("A message's list of parts is empty: give it text or a picture.")
    return str(role), content


def _check_pictures_for(entry: ModelEntry, pictures: Sequence[Picture]) -> None:
    if pictures and "image" not in entry.attachments:
        count = "1 picture" if len(pictures) == 1 else f"{len(pictures)} pictures"
        raise InvalidRequest(
            f"{entry.name} does not take pictures, and this conversation has {count}. "
            "Choose a model that does, or send your message without them."
        )
    check_pictures(pictures)


def check_temperature(temperature: object) -> None:
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        raise InvalidRequest(
            f"The temperature must be a number from 0 to 2; got {temperature!r:.20}."
        )


def check_image_prompt(prompt: object) -> str:
    """The prompt to send (trimmed), or ``InvalidRequest``."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("Describe the image first: the prompt is empty.")
    if len(prompt) > MAX_IMAGE_PROMPT_CHARS:
        raise InvalidRequest(
            f"The prompt is {len(prompt):,} characters; the limit is {MAX_IMAGE_PROMPT_CHARS:,}."
        )
    return prompt.strip()


def chat_estimate(
    entry: ModelEntry,
    notice: str | None,
    price: Price,
    messages: tuple[Message, ...],
    max_tokens: int,
) -> Estimate:
    prompt = tokens.prompt_tokens(entry.litellm_model, messages)
    if prompt + max_tokens > entry.context_window:
        raise InvalidRequest(
            f"This conversation is {prompt:,} tokens; with room for a {max_tokens:,}-token "
            f"reply that is more than {entry.name}'s limit of {entry.context_window:,}. "
            "Start a new conversation, shorten the message, or ask for a shorter reply."
        )
    credits = pricing.chat_estimate(price, prompt, max_tokens)
    return Estimate(entry, notice, credits, price.version_id, prompt, max_tokens)


def image_estimate(
    entry: ModelEntry,
    notice: str | None,
    price: Price,
    n: int,
    size: str | None,
    quality: str | None,
) -> Estimate:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= entry.max_images:
        raise InvalidRequest(
            f"{entry.name} makes 1 to {entry.max_images} images at a time; got {n!r:.20}."
        )
    options = priced_options(price)
    sizes = list(options)
    size = size or ("1024x1024" if "1024x1024" in sizes else sizes[0])
    if size not in sizes:
        raise InvalidRequest(
            f"{entry.name} does not make {size!r} images; sizes: {', '.join(sizes)}."
        )
    qualities = options[size]
    # Unasked, the cheapest: "standard" for DALL·E, "low" for GPT Image, never "high" by default.
    quality = quality or qualities[0]
    if quality not in qualities:
        raise InvalidRequest(
            f"{entry.name} has no {quality!r} quality at {size}; qualities: {', '.join(qualities)}."
        )
    credits = max(1, image_cost(price, size, quality, n))
    return Estimate(entry, notice, credits, price.version_id, images=n, size=size, quality=quality)


def priced_options(price: Price) -> dict[str, list[str]]:
    """Sizes (in order) and, per size, the qualities priced for it, cheapest first (so a picker
    reads low, medium, high rather than alphabetically, and its default costs least)."""
    options: dict[str, list[str]] = {}
    for size, quality in sorted(price.images, key=lambda sq: (sq[0], price.images[sq], sq[1])):
        options.setdefault(size, []).append(quality)
    return options


def fingerprint(*parts: object) -> str:
    """What a request asks for, as a digest: the same key with another prompt is a conflict.
    A picture counts by its digest, not the megabytes of its data URL."""
    return hashlib.sha256(repr(_digestible(parts)).encode()).hexdigest()


def _digestible(value: object) -> object:
    """``value`` with every picture's URL replaced by a digest of it. Everything else is kept
    as is, so a request without pictures has the same fingerprint as before there were any."""
    if isinstance(value, tuple):
        return tuple(_digestible(item) for item in value)
    if isinstance(value, list):
        return [_digestible(item) for item in value]
    if isinstance(value, dict):
        return {
            key: _url_digest(item) if key == "url" and isinstance(item, str) else _digestible(item)
            for key, item in value.items()
        }
    return value


def _url_digest(url: str) -> str:
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()
