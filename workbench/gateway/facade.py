"""The provider gateway: the one path by which the workbench calls an AI provider.

Every billable call goes reserve → call → settle:

1. check the request (bad input raises ``InvalidRequest``; nothing is written or called) and
   that its feature is switched on (``FeatureDisabled``, recorded as a ``refused`` usage row);
2. resolve the model through the allowlist (a fallback is announced in ``notice``);
3. estimate its most possible cost and RESERVE that as a hold, in one transaction that also checks
   the user's cap and rate limits and records the caller's idempotency key;
4. call the provider, streamed, tagging the request with the hold id and the request id;
5. settle in ``finally``: CAPTURE what the provider reports it used (at most the hold, the rest
   released) or RELEASE by the refund policy, writing the usage row in that same transaction.

Refund policy (each case a ledger line): failure before dispatch and provider errors release the
whole hold, unless the provider had already reported the reply's usage (then that is charged); a
person stopping a stream is charged the prompt and what was streamed; fewer images than asked (or
returned images that are not raster images) are charged per image kept; a timeout leaves the
outcome unknown, so the hold stays until it expires (the sweeper's ``expire`` line returns it) and
the usage row says ``timeout``.

Prices, model switches and feature switches are read from the database and cached for at most
``PRICE_CACHE_S``/``SWITCH_CACHE_S`` (5 s) per process, on an injectable monotonic clock, so every
app process honours an operator's change within 5 seconds.

This module is the facade (``Gateway``: what can be called, estimates, ``chat``,
``generate_images``, the reserve); its parts live beside it: ``requests`` (input checks and
estimates), ``caches`` (prices and switches, 5 s), ``chat_turn`` (the streamed turn),
``image_call`` (one image call), ``settlement`` (usage rows and the refund policy, and where each
call is counted in the metrics), ``replays`` (what an answered key gets back), ``sweeps`` (the
background expiry of overdue holds), ``results``.

Settlement never calls Streamlit: a Streamlit rerun can interrupt a script at any ``st.*`` call,
and these ``finally`` blocks must finish.

Each call (``chat``, ``generate_images``) gets a request id at its entry
(``workbench.observability.request_ids``): every log line about it carries that id, its
idempotency key and, once reserved, its hold id; the provider's request carries it in
``X-Request-Id``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from ledger.errors import CapExceeded, InsufficientCredits, RateLimited, UnpricedModel
from ledger.holds import Hold
from ledger.idempotency import check_key
from ledger.pricing import Price
from ledger.ratelimits import RateLimits
from ledger.service import HoldOutcome, Ledger
from ledger.statuses import HoldStatus
from workbench.gateway.caches import Monotonic, PriceCache, SwitchCache
from workbench.gateway.caller import Caller
from workbench.gateway.catalogue import Catalogue, Kind, ModelEntry
from workbench.gateway.chat_turn import ChatTurn
from workbench.gateway.errors import FeatureDisabled, ModelUnavailable, RequestInProgress
from workbench.gateway.image_call import run_images
from workbench.gateway.keys import Credentials, ProviderKeys
from workbench.gateway.providers.base import (
    CallOptions,
    ChatCall,
    ImageCall,
    Message,
    Provider,
)
from workbench.gateway.replays import replayed_chat, replayed_images
from workbench.gateway.requests import (
    CHAT_FEATURE,
    FEATURE_NAMES,
    IMAGE_FEATURE,
    chat_estimate,
    check_chat,
    check_image_prompt,
    check_temperature,
    fingerprint,
    image_estimate,
    priced_options,
)
from workbench.gateway.results import Estimate, ImageResult
from workbench.gateway.retries import RETRY_WAIT_CAP_S
from workbench.gateway.settlement import Settlement
from workbench.gateway.sweeps import BackgroundSweep
from workbench.images.store import ImageStore
from workbench.observability import logs, request_ids
from workbench.observability.request_ids import CallIds, bound

log = logging.getLogger("workbench.gateway")

# Time allowed after a call's deadline to write its settlement before the hold may expire.
SETTLE_MARGIN = timedelta(seconds=60)
# The longest wait before one retry (``retries``: Retry-After or exponential backoff, capped).
RETRY_BACKOFF_ALLOWANCE_S = RETRY_WAIT_CAP_S
HOLD_HEADER = "X-Workbench-Hold"
REQUEST_ID_HEADER = "X-Request-Id"


@dataclass(frozen=True)
class Timing:
    """A call's time limits, and the hold TTL derived from them."""

    timeout_s: float
    max_retries: int

    @property
    def deadline(self) -> timedelta:
        """The longest a call may take over all its attempts, waits between them included."""
        attempts = 1 + self.max_retries
        return timedelta(
            seconds=self.timeout_s * attempts + RETRY_BACKOFF_ALLOWANCE_S * self.max_retries
        )

    @property
    def hold_ttl(self) -> timedelta:
        """Longer than any call plus its settlement: a slow success is never captured late."""
        return self.deadline + SETTLE_MARGIN


class Gateway:
    def __init__(
        self,
        ledger: Ledger,
        catalogue: Catalogue,
        keys: ProviderKeys,
        providers: Mapping[str, Provider],
        *,
        timing: Timing,
        limits: RateLimits | None,
        images: ImageStore,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """``catalogue`` is the allowlist as the file lists it; the database's model switches are
        overlaid on it (``catalogue`` property). ``monotonic`` is the clock of the price and
        switch caches (tests move it instead of sleeping)."""
        self.ledger = ledger
        self.keys = keys
        self._providers = providers
        self.timing = timing
        self.limits = limits
        self.images = images
        self.prices = PriceCache(ledger, monotonic)
        self._switches = SwitchCache(ledger, catalogue, monotonic)
        self.settlement = Settlement(ledger)
        self._sweep = BackgroundSweep(ledger)

    # --- what can be called ------------------------------------------------------------------

    @property
    def catalogue(self) -> Catalogue:
        """The allowlist with the database's model switches applied (at most 5 s old)."""
        return self._switches.state().catalogue

    def feature_off(self, feature_key: str) -> FeatureDisabled | None:
        """Why ``feature_key`` cannot be used right now (switched off, with the operator's
        message), or None when it is on. At most 5 s old, like every switch."""
        switch = self._switches.state().switches.feature(feature_key)
        if switch is None or switch.enabled:
            return None
        name = FEATURE_NAMES.get(feature_key, feature_key)
        said = switch.message or "Ask the workbench's admins when it will be back."
        return FeatureDisabled(
            f"{name} is switched off for now. {said}",
            feature_key=feature_key,
            detail=switch.message,
        )

    def models(self, kind: Kind) -> list[ModelEntry]:
        """The models a person may pick for ``kind`` (enabled, with a configured provider)."""
        return self.catalogue.offered(kind, self.keys.available())

    def _resolve(
        self, model: str | None, kind: Kind, fallback: bool
    ) -> tuple[ModelEntry, str | None]:
        resolution = self.catalogue.resolve(model, kind, self.keys.available(), fallback=fallback)
        return resolution.entry, resolution.notice

    # --- estimates -----------------------------------------------------------------------------

    def estimate_chat(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        system: str | None = None,
        max_tokens: int | None = None,
        fallback: bool = True,
    ) -> Estimate:
        """What sending this conversation would hold, without holding it. Raises like ``chat``
        for bad input, a switched-off feature and unpriced models (not recorded here: nothing
        was asked)."""
        raise_if(self.feature_off(CHAT_FEATURE))
        entry, notice = self._resolve(model, "chat", fallback)
        full, limit = check_chat(entry, messages, system, max_tokens)
        price = self.prices.current(entry.price)
        return chat_estimate(entry, notice, price, full, limit)

    def estimate_images(
        self,
        *,
        model: str | None = None,
        n: int = 1,
        size: str | None = None,
        quality: str | None = None,
        fallback: bool = True,
    ) -> Estimate:
        raise_if(self.feature_off(IMAGE_FEATURE))
        entry, notice = self._resolve(model, "image", fallback)
        price = self.prices.current(entry.price)
        return image_estimate(entry, notice, price, n, size, quality)

    def image_options(self, model: str) -> dict[str, list[str]]:
        """Sizes and, per size, qualities the model is priced for (what a picker may offer),
        cheapest quality first."""
        entry, _ = self._resolve(model, "image", True)
        return priced_options(self.prices.current(entry.price))

    # --- chat ----------------------------------------------------------------------------------

    def chat(
        self,
        caller: Caller,
        messages: Sequence[Message],
        *,
        key: str,
        model: str | None = None,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        fallback: bool = True,
    ) -> ChatTurn:
        """Reserve for one chat turn and return it, ready to stream.

        Raises before anything is called: ``FeatureDisabled`` (chat switched off),
        ``InvalidRequest``, ``ModelUnavailable``, and the ledger's ``UnpricedModel``,
        ``InsufficientCredits``, ``CapExceeded``, ``RateLimited`` (those four and
        ``FeatureDisabled`` recorded as ``refused`` usage rows), ``RequestInProgress`` for a key
        being answered right now. A key already answered returns a turn whose ``result`` says so and
        which streams nothing.
        """
        check_key(key)
        with bound(CallIds(request_ids.new_request_id(), key)) as ids:
            self._feature_or_refuse(caller, CHAT_FEATURE, "chat", model, key)
            check_temperature(temperature)
            entry, notice = self._resolve(model, "chat", fallback)
            full, limit = check_chat(entry, messages, system, max_tokens)
            price = self._price_or_refuse(caller, entry, CHAT_FEATURE, key)
            estimate = chat_estimate(entry, notice, price, full, limit)
            digest = fingerprint(entry.id, full, limit, temperature)
            hold = self._reserve(caller, entry, CHAT_FEATURE, estimate.credits, key, digest)
            if hold.replayed:
                return ChatTurn.answered(replayed_chat(self.ledger, hold.hold, entry, notice))
            held = ids.with_hold(hold.hold.id)
            call = ChatCall(entry, full, limit, temperature, self._options(entry, hold.hold, held))
            return ChatTurn(self, caller, call, estimate, hold.hold, key, held)

    # --- images --------------------------------------------------------------------------------

    def generate_images(
        self,
        caller: Caller,
        prompt: str,
        *,
        key: str,
        model: str | None = None,
        n: int = 1,
        size: str | None = None,
        quality: str | None = None,
        fallback: bool = True,
    ) -> ImageResult:
        """Generate ``n`` images, charging only for those that come back.

        Raises like ``chat`` before the call, and ``ProviderFailed`` (after settling) when the
        provider fails. A key already answered returns its stored images without a call.
        """
        check_key(key)
        with bound(CallIds(request_ids.new_request_id(), key)) as ids:
            self._feature_or_refuse(caller, IMAGE_FEATURE, "image", model, key)
            text = check_image_prompt(prompt)
            entry, notice = self._resolve(model, "image", fallback)
            price = self._price_or_refuse(caller, entry, IMAGE_FEATURE, key)
            estimate = image_estimate(entry, notice, price, n, size, quality)
            assert estimate.size is not None and estimate.quality is not None
            digest = fingerprint(entry.id, text, n, estimate.size, estimate.quality)
            outcome = self._reserve(caller, entry, IMAGE_FEATURE, estimate.credits, key, digest)
            hold = outcome.hold
            if outcome.replayed:
                return replayed_images(self.ledger, self.images, hold, entry, notice, n)
            with bound(ids.with_hold(hold.id)) as held:
                call = ImageCall(
                    entry,
                    text,
                    n,
                    estimate.size,
                    estimate.quality,
                    self._options(entry, hold, held),
                )
                return run_images(self, caller, call, hold, key, notice)

    # --- the money path --------------------------------------------------------------------------

    def _feature_or_refuse(
        self, caller: Caller, feature: str, kind: Kind, model: str | None, key: str
    ) -> None:
        """A switched-off feature is refused before anything else: no hold, nothing charged,
        nothing called; the refusal is a ``refused`` usage row like the ledger's refusals."""
        refusal = self.feature_off(feature)
        if refusal is None:
            return
        catalogue = self.catalogue
        entry: ModelEntry | None
        try:  # the model the call would have used, for the usage row
            entry = catalogue.resolve(model, kind, self.keys.available()).entry
        except ModelUnavailable:
            entry = catalogue.get(model or "") or catalogue.get(catalogue.default(kind))
        assert entry is not None  # the catalogue's defaults are checked when it is loaded
        self.settlement.refusal(caller, entry, feature, key, refusal)
        raise refusal

    def _price_or_refuse(self, caller: Caller, entry: ModelEntry, feature: str, key: str) -> Price:
        try:
            price = self.prices.current(entry.price)
            if price.feature_key != feature:
                raise UnpricedModel(
                    f"model {entry.price!r} is priced for {price.feature_key!r}, not {feature!r}",
                    model=entry.price,
                )
        except UnpricedModel as refusal:
            self.settlement.refusal(caller, entry, feature, key, refusal)
            raise
        return price

    def _reserve(
        self,
        caller: Caller,
        entry: ModelEntry,
        feature: str,
        amount: int,
        key: str,
        fingerprint: str,
    ) -> HoldOutcome:
        self._sweep.maybe()
        try:
            outcome = self.ledger.reserve(
                caller.account_id,
                user_id=caller.user_id,
                feature_key=feature,
                model=entry.price,
                amount=amount,
                key=key,
                ttl=self.timing.hold_ttl,
                limits=self.limits,
                fingerprint=fingerprint,
            )
        except (InsufficientCredits, CapExceeded, RateLimited) as refusal:
            if not refusal.replayed:
                self.settlement.refusal(caller, entry, feature, key, refusal)
            raise
        if outcome.replayed and outcome.hold.status == HoldStatus.PENDING:
            raise RequestInProgress(
                "This request is already being answered; wait for it to finish.",
                hold_id=outcome.hold.id,
            )
        log.info(
            "hold %s: %s for %s",
            "replayed" if outcome.replayed else "reserved",
            outcome.hold.id,
            entry.id,
            extra={
                "hold_id": outcome.hold.id,
                "model": entry.id,
                "feature": feature,
                "amount_micros": outcome.hold.amount,
                "replayed": outcome.replayed,
            },
        )
        return outcome

    def _options(self, entry: ModelEntry, hold: Hold, ids: CallIds) -> CallOptions:
        credentials = (
            self.keys.compatible.get(entry.id)
            if entry.provider == "openai_compatible"
            else self.keys.providers.get(entry.provider)
        )
        return CallOptions(
            credentials=credentials or Credentials(),
            timeout_s=self.timing.timeout_s,
            max_retries=self.timing.max_retries,
            headers={HOLD_HEADER: str(hold.id), REQUEST_ID_HEADER: ids.request_id},
        )

    def provider_for(self, entry: ModelEntry) -> Provider:
        # litellm may have been imported since logging was set up: its own handlers go now.
        logs.adopt_litellm_loggers()
        return self._providers["demo" if entry.provider == "demo" else "litellm"]


def raise_if(error: Exception | None) -> None:
    if error is not None:
        raise error
