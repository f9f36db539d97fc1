"""Refusals and failures as plain sentences for people (tracebacks go to the server log)."""

from __future__ import annotations

import re

from ledger.amounts import credits_text, format_credits
from ledger.errors import (
    CapExceeded,
    IdempotencyConflict,
    InsufficientCredits,
    LedgerError,
    RateLimited,
    UnpricedModel,
)
from workbench.gateway.errors import FeatureDisabled, GatewayError


def explain(error: Exception) -> str:
    if isinstance(error, InsufficientCredits):
        needed, available = _two(error.needed, error.available)
        return (
            f"Not enough credits: this needs about {needed} and your workspace has "
            f"{available} available. Nothing was charged."
        )
    if isinstance(error, CapExceeded):
        cap, used = _two(error.cap, error.used)
        return (
            f"This would pass your monthly spending cap of {cap} credits "
            f"({used} used so far). Nothing was charged."
        )
    if isinstance(error, RateLimited):
        return (
            f"You are sending requests faster than allowed; try again in "
            f"{error.retry_after_s} s. Nothing was charged."
        )
    if isinstance(error, UnpricedModel):
        return "That model has no price yet, so it cannot be used. Ask an admin to price it."
    if isinstance(error, FeatureDisabled):
        # "Chat is switched off for now." and the operator's message, as the gateway put it.
        return error.message
    if isinstance(error, IdempotencyConflict):
        return "That request was already sent with different settings; please send it again."
    if isinstance(error, GatewayError | LedgerError):
        return error.message
    return "Something went wrong on our side; it has been logged. Nothing was charged."


def concerns_credits(error: Exception) -> bool:
    """Refusals that My credits explains (balance, cap, limits): shown with a link to it."""
    return isinstance(error, InsufficientCredits | CapExceeded | RateLimited)


def credits(micros: int) -> str:
    """An amount of micro-credits in credits, with its unit: ``1 credit``, ``0.234 credits``,
    ``1,250 credits``."""
    return credits_text(micros)


def _two(first: int, second: int) -> tuple[str, str]:
    """Two amounts (micro-credits) to compare in one sentence: shown with every decimal when
    the usual rounding would make different amounts read the same."""
    exact = first != second and format_credits(first) == format_credits(second)
    return format_credits(first, exact=exact), format_credits(second, exact=exact)


# What Streamlit's Markdown (CommonMark, GitHub's extensions, its own ``:red[...]`` and ``$math$``)
# reads as markup anywhere in a line; ``&`` starts an entity.
_INLINE = re.compile(r"([\\`*_\[\]<>$~|#&])")
# Made into links, emoji, icons or colour by passes over the text *after* parsing, which no
# backslash escape stops: "http://…", "www.…", "name@host", ":red", ":smile:", ":material/…".
# An invisible word joiner (U+2060) inside each breaks the pattern and changes nothing seen.
_JOINED = re.compile(r"(?i):(?=[a-z]|//)|www(?=\.)|(?<=[-.\w+])(?=@[-\w])")
WORD_JOINER = "\u2060"
# At the start of a line: a bullet or a numbered item (a space or the line's end follows), a
# thematic break or a setext underline ("---", "===").
_LINE_START = re.compile(r"(?m)^([ \t]*)([-+=]|\d{1,9}[.)])(?=[ \t\-=]|$)")


def escape_markdown(text: str) -> str:
    """``text`` as literal characters inside a Markdown element (st.markdown, st.caption, alerts,
    toasts, headings, widget and metric labels): a name, a reason or a message that quotes what
    someone typed is text, never a link, an autolink, an image, HTML, emphasis or colour. The
    page shows exactly ``text`` (backslash escapes render as the character; the word joiners
    are invisible, though a copy of the text carries them)."""
    text = _INLINE.sub(r"\\\1", text)
    text = _JOINED.sub(lambda found: f"{found.group(0)}{WORD_JOINER}", text)
    return _LINE_START.sub(_escape_marker, text)


def _escape_marker(found: re.Match[str]) -> str:
    indent, marker = found.group(1), found.group(2)
    return f"{indent}{marker[:-1]}\\{marker[-1]}"


def sentence(error: Exception) -> str:
    """An error's message as one sentence for ``st.error`` (which renders markdown): capital
    first letter, a full stop, and markdown's special characters escaped (messages quote what
    was typed)."""
    text = str(error).strip() or "That did not work."
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return escape_markdown(text)
