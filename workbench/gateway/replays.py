"""What a request whose idempotency key was already answered gets back: the first call's outcome,
read from its hold and usage row, with no second provider call and no second charge."""

from __future__ import annotations

from ledger.holds import Hold
from ledger.service import Ledger
from ledger.statuses import UsageStatus
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.providers.base import Usage
from workbench.gateway.results import ChatResult, ImageResult
from workbench.gateway.settlement import replay_message
from workbench.images.store import ImageStore


def replayed_chat(ledger: Ledger, hold: Hold, entry: ModelEntry, notice: str | None) -> ChatResult:
    row = ledger.usage_for_hold(hold.id)
    usage = Usage(row.input_tokens, row.output_tokens, row.cached_tokens) if row else Usage(0, 0)
    status = UsageStatus(row.status) if row else UsageStatus.ERROR
    return ChatResult(
        status=status,
        text="",
        usage=usage,
        credits=hold.captured or 0,
        hold_id=hold.id,
        model=entry,
        notice=notice,
        replayed=True,
        message=replay_message(status, row.error_type if row else None),
    )


def replayed_images(
    ledger: Ledger,
    images: ImageStore,
    hold: Hold,
    entry: ModelEntry,
    notice: str | None,
    requested: int,
) -> ImageResult:
    row = ledger.usage_for_hold(hold.id)
    return ImageResult(
        status=UsageStatus(row.status) if row else UsageStatus.ERROR,
        images=images.load(hold.id),
        requested=requested,
        credits=hold.captured or 0,
        hold_id=hold.id,
        model=entry,
        notice=notice,
        replayed=True,
        message="These images were already made for this request; nothing was charged again.",
    )
