"""One image call: the provider makes the images, the gateway decodes and keeps them on disk, and
the hold is settled: charged per image kept (at most the hold), released when none came back, none
was a raster image, or the provider failed.

Every returned image is decoded (``workbench.images.raster``) before it is written or charged:
what is not a PNG, JPEG, WebP or GIF (an SVG passed off as a PNG can carry script) is dropped, as
an image that did not come back, and named on the usage row.

It runs with the call's ids bound (``Gateway.generate_images``), so its log lines carry them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

from ledger.holds import Hold
from ledger.pricing import image_cost
from ledger.statuses import UsageStatus
from ledger.usage import CallUsage
from workbench.gateway.caller import Caller
from workbench.gateway.errors import ProviderFailed
from workbench.gateway.providers.base import ImageCall, ProviderError
from workbench.gateway.results import ImageResult
from workbench.gateway.settlement import failed, ms, nanos, unexpected
from workbench.images.raster import NotARasterImage, RasterImage, decode
from workbench.observability import logs

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
    _log_started(call)
    try:
        batch = gateway.provider_for(call.model).generate_images(call)
    except ProviderError as error:
        _log_ended(call, error.kind, started, error.error_type)
        gateway.settlement.failure(hold, base, error, started, key, output_tokens=0)
        raise failed(error, hold) from None
    except BaseException as error:
        failure = unexpected(error)
        _log_ended(call, failure.kind, started, failure.error_type)
        gateway.settlement.failure(hold, base, failure, started, key, output_tokens=0)
        raise
    _log_ended(call, UsageStatus.OK, started, None, images=len(batch.images))
    returned = batch.images[: call.n]
    try:
        kept, refused = _decoded(returned)
        stored = (
            gateway.images.save(
                hold.id,
                kept,
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
            if kept
            else []
        )
    except Exception as error:  # a full disk, a decoder gone wrong: the hold must still end
        gateway.settlement.failure(hold, base, unexpected(error), started, key, output_tokens=0)
        raise
    if refused:
        log.warning(
            "images refused model=%s hold=%s: %s",
            call.model.id,
            hold.id,
            _refused_message(refused, len(returned)),
        )
    if not stored:
        _release_empty(gateway, hold, base, key, started, refused)
    latency = ms(time.monotonic() - started)
    price = gateway.prices.version(hold.price_version_id)
    charge = min(image_cost(price, call.size, call.quality, len(stored)), hold.amount)
    usage = replace(
        base,
        status=UsageStatus.OK,
        images=len(stored),
        latency_ms=latency,
        ttft_ms=latency,
        usd_cost_nanos=nanos(batch.usd_cost),
        error_type=REFUSED if refused else None,
        error_message=_refused_message(refused, len(returned)) if refused else None,
    )
    captured = gateway.settlement.capture(hold, charge, key, usage)
    short = len(stored) < call.n
    dropped = ""
    if refused:
        were = "was not an image and was" if len(refused) == 1 else "were not images and were"
        dropped = f" ({len(refused)} {were} discarded)"
    return ImageResult(
        status=UsageStatus.OK,
        images=stored,
        requested=call.n,
        credits=captured.captured or 0,
        hold_id=hold.id,
        model=call.model,
        notice=notice,
        message=(
            f"Only {len(stored)} of {call.n} images came back{dropped}; you were charged for "
            f"{len(stored)}."
            if short
            else None
        ),
    )


REFUSED = "NotARasterImage"


def _log_started(call: ImageCall) -> None:
    extra: dict[str, Any] = {"model": call.model.id, "provider": call.model.provider, "n": call.n}
    if logs.prompts_logged():  # a debugging setting, off by default: prompts are private
        extra["prompt"] = call.prompt
    log.info("provider call started: %s", call.model.id, extra=extra)


def _log_ended(
    call: ImageCall, status: str, started: float, error_type: str | None, images: int = 0
) -> None:
    latency = ms(time.monotonic() - started)
    log.info(
        "provider call ended: %s in %d ms",
        status,
        latency,
        extra={
            "model": call.model.id,
            "status": status,
            "latency_ms": latency,
            "error_type": error_type,
            "images": images,
        },
    )


def _decoded(returned: tuple[bytes, ...]) -> tuple[list[RasterImage], list[NotARasterImage]]:
    """The images that decode as raster images, and why the others do not."""
    kept: list[RasterImage] = []
    refused: list[NotARasterImage] = []
    for data in returned:
        try:
            kept.append(decode(data))
        except NotARasterImage as refusal:
            refused.append(refusal)
    return kept, refused


def _refused_message(refused: list[NotARasterImage], returned: int) -> str:
    seen = ", ".join(sorted({r.seen for r in refused}))
    return f"{len(refused)} of {returned} returned images not a raster image (looked like {seen})"


def _release_empty(
    gateway: Gateway,
    hold: Hold,
    base: CallUsage,
    key: str,
    started: float,
    refused: list[NotARasterImage],
) -> NoReturn:
    """Nothing to keep: no image came back, or none that decodes. Release the hold and say so."""
    if refused:
        error_type = REFUSED
        error_message = _refused_message(refused, len(refused))
        reason = "the provider sent back something that is not an image: nothing charged"
        sentence = (
            "The image service sent back something that is not an image; it was discarded. "
            "Nothing was charged."
        )
    else:
        error_type = "NoImagesReturned"
        error_message = "the provider returned no images"
        reason = "the provider returned no images: nothing charged"
        sentence = "The image service returned no images. Nothing was charged."
    usage = replace(
        base,
        status=UsageStatus.ERROR,
        error_type=error_type,
        latency_ms=ms(time.monotonic() - started),
        error_message=error_message,
    )
    gateway.settlement.release(hold, reason, key, usage)
    raise ProviderFailed(
        sentence,
        status=UsageStatus.ERROR,
        settlement="released",
        hold_id=hold.id,
        error_type=error_type,
    )
