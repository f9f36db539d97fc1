"""Counting tokens with litellm's counter for the model (tiktoken's encodings ship with litellm,
so this works offline). Used for estimates, and for usage when a provider reports none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import litellm


def prompt_tokens(litellm_model: str, messages: Iterable[Mapping[str, str]]) -> int:
    return int(litellm.token_counter(model=litellm_model, messages=[dict(m) for m in messages]))


def text_tokens(litellm_model: str, text: str) -> int:
    if not text:
        return 0
    return int(litellm.token_counter(model=litellm_model, text=text, count_response_tokens=True))
