"""What the gateway answers with: an estimate before a call, and a chat or image result after
it (credits charged, usage, whether it was a replay, a sentence for the person when needed)."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.statuses import UsageStatus
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.providers.base import Usage
from workbench.images.store import StoredImage

Status = UsageStatus  # how a call ended: the usage row's status


@dataclass(frozen=True)
class Estimate:
    """What a request will hold (its most possible cost), in micro-credits; shown as "about
    0.41 credits"."""

    model: ModelEntry
    notice: str | None
    credits: int  # micro-credits
    price_version: int | None
    prompt_tokens: int = 0
    max_tokens: int = 0
    images: int = 0
    size: str | None = None
    quality: str | None = None


@dataclass(frozen=True)
class ChatResult:
    status: Status
    text: str
    usage: Usage
    credits: int  # micro-credits, charged
    hold_id: int
    model: ModelEntry
    notice: str | None = None
    replayed: bool = False
    message: str | None = None
    usd_cost: float | None = None


@dataclass(frozen=True)
class ImageResult:
    status: Status
    images: list[StoredImage]
    requested: int
    credits: int  # micro-credits, charged
    hold_id: int
    model: ModelEntry
    notice: str | None = None
    replayed: bool = False
    message: str | None = None
