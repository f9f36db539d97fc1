"""What a provider is: a small class whose ``execute`` streams a chat reply and reports usage, and
whose ``generate_images`` returns images. Providers know nothing of credits; the gateway bills.

Failures surface as ``ProviderError`` with ``kind`` ``error`` (the provider said no, or the answer
was unreadable) or ``timeout`` (no answer in time: the outcome is unknown).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ledger.statuses import ProviderOutcome
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.keys import Credentials

# {"role": ..., "content": ...}: content is text, or (a user's message) a list of OpenAI-style
# parts, text and pictures as data URLs (``workbench.gateway.content``). Typed loosely because
# callers pass what they were given; ``requests.check_chat`` checks it, and what reaches a
# provider is the checked copy.
Message = Mapping[str, object]


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True)
class CallOptions:
    """How to reach the provider: credentials, limits, and headers that tag the request."""

    credentials: Credentials
    timeout_s: float
    max_retries: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatCall:
    model: ModelEntry
    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float | None
    options: CallOptions


@dataclass
class ChatReport:
    """Filled in by ``execute`` as the stream runs: the usage the provider reported (None if it
    reported none) and its list price in US dollars (None when unknown)."""

    usage: Usage | None = None
    usd_cost: float | None = None


@dataclass(frozen=True)
class ImageCall:
    model: ModelEntry
    prompt: str
    n: int
    size: str
    quality: str
    options: CallOptions


@dataclass(frozen=True)
class ImageBatch:
    """The images that came back (PNG or other bytes), possibly fewer than asked for."""

    images: tuple[bytes, ...]
    usd_cost: float | None = None


class ProviderError(Exception):
    def __init__(self, kind: ProviderOutcome, error_type: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.error_type = error_type
        self.message = message


class Provider(Protocol):
    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        """Yield the reply's text as it arrives; set ``report.usage`` when the provider says.

        Closing the iterator early must stop the call (the person pressed stop)."""
        ...

    def generate_images(self, call: ImageCall) -> ImageBatch: ...
