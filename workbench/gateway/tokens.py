"""Counting tokens with litellm's counter for the model (tiktoken's encodings ship with litellm,
so this works offline). Used for estimates, and for usage when a provider reports none.

Pictures are counted here, not by litellm: its counter would fetch a picture given by web address
(the gateway refuses those anyway), and it prices every model's pictures as GPT-4o's, while
GPT-4o mini bills 33 times the tokens for the same picture. A hold must cover what the provider
may charge, so each picture counts the provider's own figure for its size in pixels (read from
the picture's header, nothing fetched), and a model not listed here the larger of OpenAI's and
Anthropic's.

litellm is imported by the first count, not with this module: the app starts without it
(``workbench.gateway.providers.lazy``), and after the first time the import is a lookup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from workbench.gateway.content import parts_of, picture_urls, read_picture

# OpenAI (detail "high", what "auto" becomes for a large picture): fit in 2048x2048, then
# shortest side down to 768, then a base plus a figure per 512-pixel tile.
OPENAI_TILES = (85, 170)
OPENAI_MINI_TILES = (2_833, 5_667)  # gpt-4o-mini: 33 times the tokens, at a lower price
# Anthropic: fit the long edge, then (width * height) / 750 tokens, shrunk to at most the cap.
# Claude 4.7 and later read pictures at a higher resolution.
ANTHROPIC_STANDARD = (1_568, 1_600)
ANTHROPIC_HIGH = (2_576, 4_784)
_CLAUDE_VERSION = re.compile(r"claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2})(?!\d))?")


def prompt_tokens(litellm_model: str, messages: Iterable[Mapping[str, object]]) -> int:
    """The prompt's tokens: its text counted by litellm, each picture by ``picture_tokens``."""
    import litellm

    counted: list[dict[str, object]] = []
    pictures = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            counted.append(dict(message))
            continue
        text_parts = [dict(p) for p in parts_of(content) if p.get("type") == "text"]
        counted.append({**message, "content": text_parts})
        for url in picture_urls(content):
            picture = read_picture(url)
            pictures += picture_tokens(litellm_model, picture.width, picture.height)
    return int(litellm.token_counter(model=litellm_model, messages=counted)) + pictures


def text_tokens(litellm_model: str, text: str) -> int:
    if not text:
        return 0
    import litellm

    return int(litellm.token_counter(model=litellm_model, text=text, count_response_tokens=True))


def picture_tokens(litellm_model: str, width: int, height: int) -> int:
    """The most input tokens the model's provider bills for one picture of this size."""
    name = litellm_model.rsplit("/", 1)[-1].lower()
    if "claude" in name:
        version = _CLAUDE_VERSION.search(name)
        high = version is not None and (int(version[1]), int(version[2] or 0)) >= (4, 7)
        return anthropic_tokens(width, height, *(ANTHROPIC_HIGH if high else ANTHROPIC_STANDARD))
    if name.startswith("gpt-4o-mini"):
        return openai_tokens(width, height, *OPENAI_MINI_TILES)
    if name.startswith(("gpt-4o", "chatgpt-4o")):
        return openai_tokens(width, height, *OPENAI_TILES)
    return max(
        openai_tokens(width, height, *OPENAI_TILES),
        anthropic_tokens(width, height, *ANTHROPIC_STANDARD),
    )


def openai_tokens(width: int, height: int, base: int, per_tile: int) -> int:
    scale = min(1.0, 2048 / max(width, height))
    width, height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    scale = min(1.0, 768 / min(width, height))
    width, height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    return base + per_tile * math.ceil(width / 512) * math.ceil(height / 512)


def anthropic_tokens(width: int, height: int, long_edge: int, cap: int) -> int:
    scale = min(1.0, long_edge / max(width, height))
    width, height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    # Pixels / 750 as documented, or 28-pixel patches (more, for small pictures): the larger.
    tokens = max(math.ceil(width * height / 750), math.ceil(width / 28) * math.ceil(height / 28))
    return min(tokens, cap)
