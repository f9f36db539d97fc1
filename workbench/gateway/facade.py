"""The provider gateway: the one path by which the workbench calls an AI provider.

Every billable call goes reserve → call → settle:

1. check the request (bad input raises ``InvalidRequest``; nothing is written or called);
2. resolve the model through the allowlist (a fallback is announced in ``notice``);
3. estimate its most possible cost and RESERVE that as a hold, in one transaction that also checks
   the user's cap and rate limits and records the caller's idempotency key;
4. call the provider, streamed, tagging the request with the hold id;
5. settle in ``finally``: CAPTURE what the provider reports it used (at most the hold, the rest
   released) or RELEASE by the refund policy, writing the usage row in that same transaction.

Refund policy (each case a ledger line): failure before dispatch and provider errors release the
whole hold; a person stopping a stream is charged the prompt and what was streamed; fewer images
than asked are charged per image returned; a timeout leaves the outcome unknown, so the hold stays
until it expires (the sweeper's ``expire`` line returns it) and the usage row says ``timeout``.

Settlement never calls Streamlit: a Streamlit rerun can interrupt a script at any ``st.*`` call,
and these ``finally`` blocks must finish.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

from ledger.amounts import format_credits
from ledger.errors import CapExceeded, InsufficientCredits, LedgerError, RateLimited, UnpricedModel
from ledger.features import operation_type
from ledger.holds import Hold
from ledger.idempotency import check_key
from ledger.pricing import Price, chat_estimate, image_cost, token_cost
from ledger.ratelimits import RateLimits
from ledger.service import HoldOutcome, Ledger
from ledger.usage import UsageRecord, UsageRow
from workbench.gateway import tokens
from workbench.gateway.catalogue import Catalogue, Kind, ModelEntry
from workbench.gateway.errors import InvalidRequest, ProviderFailed, RequestInProgress
from workbench.gateway.keys import Credentials, ProviderKeys, redactor
from workbench.gateway.providers.base import (
    CallOptions,
    ChatCall,
    ChatReport,
    ImageCall,
    Message,
    Provider,
    ProviderError,
    Usage,
)
from workbench.images.store import ImageStore, StoredImage

log = logging.getLogger("workbench.gateway")

CHAT_FEATURE = "ai_text_chat"
IMAGE_FEATURE = "ai_image_generation"
DEFAULT_MAX_TOKENS = 1024
MAX_PROMPT_CHARS = 200_000
MAX_IMAGE_PROMPT_CHARS = 4_000
# Time allowed after a call's deadline to write its settlement before the hold may expire.
SETTLE_MARGIN = timedelta(seconds=60)
# litellm waits between retries (exponential, capped); this bounds the wait per retry.
RETRY_BACKOFF_ALLOWANCE_S = 10.0
SWEEP_EVERY_S = 60.0
PRICE_CACHE_S = 5.0
HOLD_HEADER = "X-Workbench-Hold"

Status = Literal["ok", "error", "cancelled", "timeout", "refused"]


@dataclass(frozen=True)
class Caller:
    """Who is asking and whose credits pay: the signed-in user in one workspace's account."""

    user_id: int
    workspace_id: int
    account_id: int


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


@dataclass
class _Prices:
    """Current prices, briefly cached; price versions (immutable) cached for good."""

    ledger: Ledger
    _current: dict[str, tuple[float, Price]] = field(default_factory=dict)
    _versions: dict[int, Price] = field(default_factory=dict)

    def current(self, model: str) -> Price:
        cached = self._current.get(model)
        if cached is not None and time.monotonic() - cached[0] < PRICE_CACHE_S:
            return cached[1]
        price = self.ledger.price(model)
        self._current[model] = (time.monotonic(), price)
        if price.version_id is not None:
            self._versions[price.version_id] = price
        return price

    def version(self, version_id: int) -> Price:
        price = self._versions.get(version_id)
        if price is None:
            price = self._versions[version_id] = self.ledger.price_version(version_id)
        return price


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _nanos(usd: float | None) -> int | None:
    return None if usd is None else round(usd * 1_000_000_000)


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
    ) -> None:
        self.ledger = ledger
        self.catalogue = catalogue
        self.keys = keys
        self._providers = providers
        self.timing = timing
        self.limits = limits
        self.images = images
        self._prices = _Prices(ledger)
        self._last_sweep = time.monotonic()
        self._sweep_lock = threading.Lock()

    # --- what can be called ------------------------------------------------------------------

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
        for bad input and unpriced models (those are not recorded here: nothing was asked)."""
        entry, notice = self._resolve(model, "chat", fallback)
        full, limit = _check_chat(entry, messages, system, max_tokens)
        price = self._prices.current(entry.price)
        return self._chat_estimate(entry, notice, price, full, limit)

    def _chat_estimate(
        self,
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
                "Start a new conversation, shorten the message, or ask for a shorter reply.",
                prompt_tokens=prompt,
                context_window=entry.context_window,
            )
        credits = chat_estimate(price, prompt, max_tokens)
        return Estimate(entry, notice, credits, price.version_id, prompt, max_tokens)

    def estimate_images(
        self,
        *,
        model: str | None = None,
        n: int = 1,
        size: str | None = None,
        quality: str | None = None,
        fallback: bool = True,
    ) -> Estimate:
        entry, notice = self._resolve(model, "image", fallback)
        price = self._prices.current(entry.price)
        return _image_estimate(entry, notice, price, n, size, quality)

    def image_options(self, model: str) -> dict[str, list[str]]:
        """Sizes and, per size, qualities the model is priced for (what a picker may offer)."""
        entry, _ = self._resolve(model, "image", True)
        options: dict[str, list[str]] = {}
        for size, quality in sorted(self._prices.current(entry.price).images):
            options.setdefault(size, []).append(quality)
        return options

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

        Raises before anything is called: ``InvalidRequest``, ``ModelUnavailable``, and the
        ledger's ``UnpricedModel``, ``InsufficientCredits``, ``CapExceeded``, ``RateLimited``
        (those four recorded as ``refused`` usage rows), ``RequestInProgress`` for a key being
        answered right now. A key already answered returns a turn whose ``result`` says so and
        which streams nothing.
        """
        check_key(key)
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not 0 <= temperature <= 2
        ):
            raise InvalidRequest(
                f"The temperature must be a number from 0 to 2; got {temperature!r:.20}."
            )
        entry, notice = self._resolve(model, "chat", fallback)
        full, limit = _check_chat(entry, messages, system, max_tokens)
        price = self._price_or_refuse(caller, entry, CHAT_FEATURE, key)
        estimate = self._chat_estimate(entry, notice, price, full, limit)
        fingerprint = _fingerprint(entry.id, full, limit, temperature)
        hold = self._reserve(caller, entry, CHAT_FEATURE, estimate.credits, key, fingerprint)
        if hold.replayed:
            return ChatTurn.answered(self._replayed_chat(hold.hold, entry, notice))
        call = ChatCall(entry, full, limit, temperature, self._options(entry, hold.hold))
        return ChatTurn(self, caller, call, estimate, hold.hold, key)

    def _replayed_chat(self, hold: Hold, entry: ModelEntry, notice: str | None) -> ChatResult:
        row = self._finished(hold)
        usage = (
            Usage(row.input_tokens, row.output_tokens, row.cached_tokens) if row else Usage(0, 0)
        )
        status: Status = row.status if row else "error"  # type: ignore[assignment]
        return ChatResult(
            status=status,
            text="",
            usage=usage,
            credits=hold.captured or 0,
            hold_id=hold.id,
            model=entry,
            notice=notice,
            replayed=True,
            message=_replay_message(status, row.error_type if row else None),
        )

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
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidRequest("Describe the image first: the prompt is empty.")
        if len(prompt) > MAX_IMAGE_PROMPT_CHARS:
            raise InvalidRequest(
                f"The prompt is {len(prompt):,} characters; the limit is "
                f"{MAX_IMAGE_PROMPT_CHARS:,}."
            )
        entry, notice = self._resolve(model, "image", fallback)
        price = self._price_or_refuse(caller, entry, IMAGE_FEATURE, key)
        estimate = _image_estimate(entry, notice, price, n, size, quality)
        assert estimate.size is not None and estimate.quality is not None
        fingerprint = _fingerprint(entry.id, prompt.strip(), n, estimate.size, estimate.quality)
        outcome = self._reserve(caller, entry, IMAGE_FEATURE, estimate.credits, key, fingerprint)
        hold = outcome.hold
        if outcome.replayed:
            row = self._finished(hold)
            return ImageResult(
                status=row.status if row else "error",  # type: ignore[arg-type]
                images=self.images.load(hold.id),
                requested=n,
                credits=hold.captured or 0,
                hold_id=hold.id,
                model=entry,
                notice=notice,
                replayed=True,
                message="These images were already made for this request; nothing was charged "
                "again.",
            )
        call = ImageCall(
            entry, prompt.strip(), n, estimate.size, estimate.quality, self._options(entry, hold)
        )
        return self._run_images(caller, call, hold, key, notice)

    def _run_images(
        self, caller: Caller, call: ImageCall, hold: Hold, key: str, notice: str | None
    ) -> ImageResult:
        started = time.monotonic()
        base = self._usage_base(caller, call.model, hold, key)
        base = replace(base, image_size=call.size, image_quality=call.quality)
        try:
            batch = self._provider(call.model).generate_images(call)
        except ProviderError as error:
            self._settle_failure(hold, base, error, started, key, output_tokens=0)
            raise _failed(error, hold) from None
        except BaseException as error:
            self._settle_failure(hold, base, _unexpected(error), started, key, output_tokens=0)
            raise
        returned = batch.images[: call.n]
        try:
            stored = self.images.save(
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
            self._settle_failure(hold, base, _unexpected(error), started, key, output_tokens=0)
            raise
        latency = _ms(time.monotonic() - started)
        if not stored:
            usage = replace(
                base,
                status="error",
                error_type="NoImagesReturned",
                latency_ms=latency,
                error_message="the provider returned no images",
            )
            self.ledger.release(
                hold.id,
                reason="the provider returned no images: nothing charged",
                key=key,
                usage=usage,
            )
            raise ProviderFailed(
                "The image service returned no images. Nothing was charged.",
                status="error",
                settlement="released",
                hold_id=hold.id,
            )
        price = self._prices.version(hold.price_version_id)
        charge = min(image_cost(price, call.size, call.quality, len(stored)), hold.amount)
        usage = replace(
            base,
            status="ok",
            images=len(stored),
            latency_ms=latency,
            ttft_ms=latency,
            usd_cost_nanos=_nanos(batch.usd_cost),
        )
        captured = self.ledger.capture(hold.id, charge, key=key, usage=usage).hold
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
            status="ok",
            images=stored,
            requested=call.n,
            credits=captured.captured or 0,
            hold_id=hold.id,
            model=call.model,
            notice=notice,
            message=(
                f"Only {len(stored)} of {call.n} images came back; you were charged for "
                f"{len(stored)}."
                if short
                else None
            ),
        )

    # --- the money path --------------------------------------------------------------------------

    def _price_or_refuse(self, caller: Caller, entry: ModelEntry, feature: str, key: str) -> Price:
        try:
            price = self._prices.current(entry.price)
            if price.feature_key != feature:
                raise UnpricedModel(
                    f"model {entry.price!r} is priced for {price.feature_key!r}, not {feature!r}",
                    model=entry.price,
                )
        except UnpricedModel as refusal:
            self._record_refusal(caller, entry, feature, key, refusal)
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
        self._maybe_sweep()
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
                self._record_refusal(caller, entry, feature, key, refusal)
            raise
        if outcome.replayed and outcome.hold.status == "pending":
            raise RequestInProgress(
                "This request is already being answered; wait for it to finish.",
                hold_id=outcome.hold.id,
            )
        return outcome

    def _finished(self, hold: Hold) -> UsageRow | None:
        return self.ledger.usage_for_hold(hold.id)

    def _options(self, entry: ModelEntry, hold: Hold) -> CallOptions:
        credentials = (
            self.keys.compatible.get(entry.id)
            if entry.provider == "openai_compatible"
            else self.keys.providers.get(entry.provider)
        )
        return CallOptions(
            credentials=credentials or Credentials(),
            timeout_s=self.timing.timeout_s,
            max_retries=self.timing.max_retries,
            headers={HOLD_HEADER: str(hold.id)},
        )

    def _provider(self, entry: ModelEntry) -> Provider:
        return self._providers["demo" if entry.provider == "demo" else "litellm"]

    def _usage_base(self, caller: Caller, entry: ModelEntry, hold: Hold, key: str) -> UsageRecord:
        return UsageRecord(
            user_id=caller.user_id,
            workspace_id=caller.workspace_id,
            account_id=caller.account_id,
            feature_key=hold.feature_key,
            operation_type=hold.operation_type,
            model=hold.model,
            provider=entry.provider,
            status="ok",
            price_version_id=hold.price_version_id,
            idempotency_key=key,
        )

    def _record_refusal(
        self, caller: Caller, entry: ModelEntry, feature: str, key: str, refusal: LedgerError
    ) -> None:
        self.ledger.record_usage(
            UsageRecord(
                user_id=caller.user_id,
                workspace_id=caller.workspace_id,
                account_id=caller.account_id,
                feature_key=feature,
                operation_type=operation_type(feature).value,
                model=entry.price,
                provider=entry.provider,
                status="refused",
                error_type=type(refusal).__name__,
                error_message=refusal.message,
                idempotency_key=key,
            )
        )

    def _settle_failure(
        self,
        hold: Hold,
        base: UsageRecord,
        error: ProviderError,
        started: float,
        key: str,
        *,
        output_tokens: int,
        ttft_ms: int | None = None,
    ) -> None:
        """Release on an error; on a timeout keep the hold (the outcome is unknown) and say so."""
        usage = replace(
            base,
            status=error.kind,
            output_tokens=output_tokens,
            latency_ms=_ms(time.monotonic() - started),
            ttft_ms=ttft_ms,
            error_type=error.error_type,
            error_message=redactor(error.message),
        )
        if error.kind == "timeout":
            self.ledger.record_usage(usage, hold_id=hold.id)
            log.warning(
                "call timed out model=%s hold=%s: hold kept until %s",
                hold.model,
                hold.id,
                hold.expires_at.isoformat(),
            )
            return
        self.ledger.release(
            hold.id,
            reason=f"provider error ({error.error_type}): nothing charged",
            key=key,
            usage=usage,
        )
        log.warning("call failed model=%s hold=%s error=%s", hold.model, hold.id, error.error_type)

    def _maybe_sweep(self) -> None:
        """Expire overdue holds now and then, so a crashed call's credits come back without a
        separate sweeper process. One process at a time per minute; cheap when nothing is due."""
        if time.monotonic() - self._last_sweep < SWEEP_EVERY_S:
            return
        if not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._last_sweep = time.monotonic()
            self.ledger.sweep()
        except Exception:
            log.exception("background hold sweep failed (the next one will retry)")
        finally:
            self._sweep_lock.release()


class ChatTurn:
    """One reserved chat turn. Iterate it to stream the reply (``st.write_stream`` does);
    ``result`` is set once the stream has ended, however it ended.

    Closing the iterator early (the person pressed stop, or the page reran) ends the call and
    charges the prompt plus what was streamed. A turn never streamed is released when it is
    ``close()``d or garbage-collected (a rerun between reserving and streaming): failure before
    dispatch gives everything back.
    """

    def __init__(
        self,
        gateway: Gateway | None,
        caller: Caller | None,
        call: ChatCall | None,
        estimate: Estimate | None,
        hold: Hold | None,
        key: str,
    ) -> None:
        self._gateway = gateway
        self._caller = caller
        self._call = call
        self.estimate = estimate
        self.hold = hold
        self._key = key
        self.result: ChatResult | None = None
        self._started = False
        self._unsent: weakref.finalize[Any, ChatTurn] | None = None
        if gateway is not None and caller is not None and call is not None and hold is not None:
            # Holds only what the release needs, never the turn, or it would never be collected.
            self._unsent = weakref.finalize(
                self, _release_unsent, gateway, caller, call.model, hold, key
            )

    @classmethod
    def answered(cls, result: ChatResult) -> ChatTurn:
        turn = cls(None, None, None, None, None, "")
        turn.result = result
        turn._started = True
        return turn

    @property
    def notice(self) -> str | None:
        if self.estimate is not None:
            return self.estimate.notice
        return self.result.notice if self.result else None

    def close(self) -> None:
        """Give the hold back if the turn was never streamed (failure before dispatch)."""
        if self._started:
            return
        self._started = True
        if self._unsent is not None:
            self._unsent()

    def __iter__(self) -> Iterator[str]:
        if self._started:
            return
        self._started = True
        if self._unsent is not None:
            self._unsent.detach()
        gateway, call, hold, caller = self._gateway, self._call, self.hold, self._caller
        assert gateway is not None and call is not None and hold is not None and caller is not None
        report = ChatReport()
        pieces: list[str] = []
        started = time.monotonic()
        first: float | None = None
        deadline = started + gateway.timing.deadline.total_seconds()
        outcome: Status = "cancelled"
        failure: ProviderError | None = None
        stream = gateway._provider(call.model).execute(call, report)
        try:
            for piece in stream:
                if first is None:
                    first = time.monotonic()
                pieces.append(piece)
                yield piece
                if time.monotonic() > deadline:
                    failure = ProviderError("error", "DeadlineExceeded", "the reply took too long")
                    break
            else:
                outcome = "ok"
                if not pieces and report.usage is None:
                    # A stream that ends with neither text nor usage is broken (litellm passes
                    # some malformed streams off as empty replies): nothing to charge for.
                    failure = ProviderError("error", "EmptyReply", "the model sent an empty reply")
                    outcome = "error"
        except ProviderError as error:
            failure = error
            outcome = error.kind
        except GeneratorExit:
            outcome = "cancelled"
            raise
        except BaseException as error:
            failure = _unexpected(error)
            outcome = "error"
            raise
        finally:
            stream.close()
            self.result = self._settle(outcome, "".join(pieces), report, started, first, failure)
        if outcome in ("error", "timeout") and failure is not None:
            raise _failed(failure, hold)

    def _settle(
        self,
        outcome: Status,
        text: str,
        report: ChatReport,
        started: float,
        first: float | None,
        failure: ProviderError | None,
    ) -> ChatResult:
        gateway, call, hold, caller, estimate = (
            self._gateway,
            self._call,
            self.hold,
            self._caller,
            self.estimate,
        )
        assert gateway and call and hold and caller and estimate
        base = gateway._usage_base(caller, call.model, hold, self._key)
        ttft = None if first is None else _ms(first - started)
        model = call.model.litellm_model
        if outcome in ("error", "timeout"):
            assert failure is not None
            gateway._settle_failure(
                hold,
                base,
                failure,
                started,
                self._key,
                output_tokens=tokens.text_tokens(model, text),
                ttft_ms=ttft,
            )
            return ChatResult(
                outcome,
                text,
                Usage(0, 0),
                0,
                hold.id,
                call.model,
                estimate.notice,
                message=_failure_message(failure),
            )
        # ok, or cancelled (stopped by the person, or past the deadline): the provider's own
        # figures when it sent them, else the prompt estimate plus the streamed text, counted.
        usage = report.usage or Usage(estimate.prompt_tokens, tokens.text_tokens(model, text))
        price = gateway._prices.version(hold.price_version_id)
        charge = min(token_cost(price, usage.input_tokens, usage.output_tokens), hold.amount)
        record = replace(
            base,
            status=outcome,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            latency_ms=_ms(time.monotonic() - started),
            ttft_ms=ttft,
            usd_cost_nanos=_nanos(report.usd_cost),
            error_type=failure.error_type if failure else None,
        )
        captured = gateway.ledger.capture(hold.id, charge, key=self._key, usage=record).hold
        log.info(
            "chat %s model=%s hold=%s in=%d out=%d credits=%s",
            outcome,
            call.model.id,
            hold.id,
            usage.input_tokens,
            usage.output_tokens,
            format_credits(captured.captured or 0, exact=True),
        )
        return ChatResult(
            outcome,
            text,
            usage,
            captured.captured or 0,
            hold.id,
            call.model,
            estimate.notice,
            usd_cost=report.usd_cost,
            message="Stopped: you were charged for the prompt and the part of the reply shown."
            if outcome == "cancelled"
            else None,
        )


def _release_unsent(
    gateway: Gateway, caller: Caller, model: ModelEntry, hold: Hold, key: str
) -> None:
    """A reserved turn that was never streamed: release it (runs at most once, from ``close`` or
    when the turn is collected, so it must not raise)."""
    usage = replace(
        gateway._usage_base(caller, model, hold, key),
        status="error",
        error_type="NotSent",
        error_message="closed before it was sent",
    )
    try:
        gateway.ledger.release(hold.id, reason="not sent: nothing charged", key=key, usage=usage)
    except Exception:
        log.exception("could not release unsent hold %s; it will expire instead", hold.id)


# --- request checks ------------------------------------------------------------------------------


def _check_chat(
    entry: ModelEntry,
    messages: object,  # checked here: callers pass what a page or a script gave them
    system: str | None,
    max_tokens: int | None,
) -> tuple[tuple[Message, ...], int]:
    """The messages to send (system prompt first) and the reply limit, or ``InvalidRequest``."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise InvalidRequest("Type a message first: there is nothing to send.")
    checked: list[Message] = []
    total = 0
    for message in messages:
        if not isinstance(message, Mapping):
            raise InvalidRequest(
                "Each message needs a role (user or assistant) and text content; got "
                f"{type(message).__name__} {str(message)[:20]!r}."
            )
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str):
            raise InvalidRequest(
                "Each message needs a role (user or assistant) and text content; got "
                f"{str(role)[:20]!r}."
            )
        total += len(content)
        checked.append({"role": role, "content": content})
    if checked[-1]["role"] != "user":
        raise InvalidRequest("The conversation must end with your message, not the model's.")
    if not checked[-1]["content"].strip():
        raise InvalidRequest("Type a message first: the last message is empty.")
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
            f"for {entry.name}; got {limit!r:.20}.",
            max_tokens=str(limit)[:20],
        )
    return tuple(checked), limit


def _image_estimate(
    entry: ModelEntry,
    notice: str | None,
    price: Price,
    n: int,
    size: str | None,
    quality: str | None,
) -> Estimate:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= entry.max_images:
        raise InvalidRequest(
            f"{entry.name} makes 1 to {entry.max_images} images at a time; got {n!r:.20}.", n=n
        )
    offered = sorted(price.images)
    sizes = sorted({s for s, _ in offered})
    size = size or ("1024x1024" if "1024x1024" in sizes else sizes[0])
    if size not in sizes:
        raise InvalidRequest(
            f"{entry.name} does not make {size!r} images; sizes: {', '.join(sizes)}.", size=size
        )
    qualities = [q for s, q in offered if s == size]
    quality = quality or ("standard" if "standard" in qualities else qualities[0])
    if quality not in qualities:
        raise InvalidRequest(
            f"{entry.name} has no {quality!r} quality at {size}; qualities: "
            f"{', '.join(qualities)}.",
            quality=quality,
        )
    credits = max(1, image_cost(price, size, quality, n))
    return Estimate(entry, notice, credits, price.version_id, images=n, size=size, quality=quality)


def _replay_message(status: str, error_type: str | None) -> str:
    if status in ("ok", "cancelled"):
        return "This message was already answered; it was not sent again."
    if error_type == "NotSent":
        return "This message was not sent (the page was interrupted) and nothing was charged."
    return f"This message already failed ({status}); nothing more was charged."


def _fingerprint(*parts: object) -> str:
    """What a request asks for, as a digest: the same key with another prompt is a conflict."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


# --- failures ------------------------------------------------------------------------------------


def _unexpected(error: BaseException) -> ProviderError:
    return ProviderError("error", type(error).__name__, redactor(str(error))[:500])


def _failure_message(error: ProviderError) -> str:
    if error.kind == "timeout":
        return (
            "The model did not answer in time. The credits held for it stay reserved until the "
            "hold expires, then come back to you automatically."
        )
    return f"The model's service failed ({error.error_type}). Nothing was charged."


def _failed(error: ProviderError, hold: Hold) -> ProviderFailed:
    return ProviderFailed(
        _failure_message(error),
        status=error.kind,
        error_type=error.error_type,
        settlement="held until expiry" if error.kind == "timeout" else "released",
        hold_id=hold.id,
        expires_at=hold.expires_at.isoformat() if error.kind == "timeout" else None,
    )
