"""One image call: the provider makes the images, the gateway keeps them on disk, and the hold
is settled: charged per image returned (at most the hold), released when none came back or the
provider failed."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from ledger.amounts import format_credits
from ledger.holds import Hold
from ledger.pricing import image_cost
from ledger.statuses import UsageStatus
from workbench.gateway.caller import Caller
from workbench.gateway.errors import ProviderFailed
from workbench.gateway.providers.base import ImageCall, ProviderError
from workbench.gateway.results import ImageResult
from workbench.gateway.settlement import failed, ms, nanos, unexpected

if TYPE_CHECKING:
    from workbench.gateway.facade import Gateway

log = logging.getLogger("workbench.gateway")


def run_images(
    gateway: Gateway, caller: Caller, call: ImageCall, hold: Hold, key: str, notice: str | None
) -> ImageResult:
    """Make the images, keep them, and charge for those that came back (at most the hold)."""
    started = time.monotonic()
    base = gateway.settlement.measured(call.model, key)
    base = replace(base, image_size=call.size, image_quality=call.quality)
    try:
        batch = gateway.provider_for(call.model).generate_images(call)
    except ProviderError as error:
        gateway.settlement.failure(hold, base, error, started, key, output_tokens=0)
        raise failed(error, hold) from None
    except BaseException as error:
        gateway.settlement.failure(hold, base, unexpected(error), started, key, output_tokens=0)
        raise
    returned = batch.images[: call.n]
    try:
        stored = gateway.images.save(
            hold.id,
            returned,
            user_id=caller.user_id,
            workspace_id=caller.workspace_id,
            meta={
                "prompt": call.prompt,
                "model": call.model.id,
                "size": call.size,
                "quality": call.quality,
                "requested": call.n,
            },
        )
    except OSError as error:
        gateway.settlement.failure(hold, base, unexpected(error), started, key, output_tokens=0)
        raise
    latency = ms(time.monotonic() - started)
    if not stored:
        usage = replace(
            base,
            status=UsageStatus.ERROR,
            error_type="NoImagesReturned",
            latency_ms=latency,
            error_message="the provider returned no images",
        )
        gateway.ledger.release(
            hold.id,
            reason="the provider returned no images: nothing charged",
            key=key,
            usage=usage,
        )
        raise ProviderFailed(
            "The image service returned no images. Nothing was charged.",
            status=UsageStatus.ERROR,
            settlement="released",
            hold_id=hold.id,
        )
    price = gateway.prices.version(hold.price_version_id)
    charge = min(image_cost(price, call.size, call.quality, len(stored)), hold.amount)
    usage = replace(
        base,
        status=UsageStatus.OK,
        images=len(stored),
        latency_ms=latency,
        ttft_ms=latency,
        usd_cost_nanos=nanos(batch.usd_cost),
    )
    captured = gateway.ledger.capture(hold.id, charge, key=key, usage=usage).hold
    log.info(
        "images ok model=%s hold=%s images=%d/%d credits=%s latency_ms=%d",
        call.model.id,
        hold.id,
        len(stored),
        call.n,
        format_credits(captured.captured or 0, exact=True),
        latency,
    )
    short = len(stored) < call.n
    return ImageResult(
        status=UsageStatus.OK,
        images=stored,
        requested=call.n,
        credits=captured.captured or 0,
        hold_id=hold.id,
        model=call.model,
        notice=notice,
        message=(
            f"Only {len(stored)} of {call.n} images came back; you were charged for {len(stored)}."
            if short
            else None
        ),
    )
