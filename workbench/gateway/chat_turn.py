"""One chat turn, streamed: the provider call between a reserved hold and its settlement.

Iterating a ``ChatTurn`` streams the reply; however the stream ends (finished, stopped by the
person, a provider error, the deadline), ``finally`` settles the hold and writes the usage row in
one transaction: capture what was used (the provider's figures, or the prompt estimate plus the
streamed text, counted), or end it by the refund policy in ``settlement``.

Once the provider has reported the reply's usage, the call is charged that usage whatever happens
after it: a connection that drops (or goes quiet past the timeout) before the stream's last event
does not undo a reply the provider has billed. Such a turn is ``ok`` (the person has the whole
reply), its usage row naming what came after in ``error_type``.

Each step of the provider's stream and the settlement run with the call's ids bound
(``workbench.observability.request_ids``), so their log lines, litellm's included, carry the
call's request id, hold id and idempotency key; the page's own work between two pieces does not.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ledger.holds import Hold
from ledger.pricing import token_cost
from ledger.statuses import ProviderOutcome, UsageStatus
from workbench.gateway import tokens
from workbench.gateway.caller import Caller
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.keys import redactor
from workbench.gateway.providers.base import ChatCall, ChatReport, Message, ProviderError, Usage
from workbench.gateway.results import ChatResult, Estimate, Status
from workbench.gateway.settlement import failed, failure_message, ms, nanos, unexpected
from workbench.observability import logs, request_ids
from workbench.observability.metrics import NOT_SENT
from workbench.observability.request_ids import CallIds, bound

if TYPE_CHECKING:
    from workbench.gateway.facade import Gateway

log = logging.getLogger("workbench.gateway")

# The outcomes settled by the refund policy rather than by a capture.
FAILED = (UsageStatus.ERROR, UsageStatus.TIMEOUT)


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
        ids: CallIds | None = None,
    ) -> None:
        self._gateway = gateway
        self._caller = caller
        self._call = call
        self.estimate = estimate
        self.hold = hold
        self._key = key
        self._ids = ids or CallIds(request_ids.new_request_id(), key)
        self.result: ChatResult | None = None
        self._started = False
        self._unsent: weakref.finalize[Any, ChatTurn] | None = None
        if gateway is not None and caller is not None and call is not None and hold is not None:
            # Holds only what the release needs, never the turn, or it would never be collected.
            self._unsent = weakref.finalize(
                self, release_unsent, gateway, caller, call.model, hold, key, self._ids
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
        outcome = UsageStatus.CANCELLED
        failure: ProviderError | None = None
        with bound(self._ids):
            _log_started(call)
            stream = gateway.provider_for(call.model).execute(call, report)
        steps = request_ids.stepped(self._ids, stream)
        try:
            for piece in steps:
                if first is None:
                    first = time.monotonic()
                pieces.append(piece)
                yield piece
                if time.monotonic() > deadline:
                    failure = ProviderError(
                        ProviderOutcome.ERROR, "DeadlineExceeded", "the reply took too long"
                    )
                    break
            else:
                outcome = UsageStatus.OK
                if not pieces and report.usage is None:
                    # A stream that ends with neither text nor usage is broken (litellm passes
                    # some malformed streams off as empty replies): nothing to charge for.
                    failure = ProviderError(
                        ProviderOutcome.ERROR, "EmptyReply", "the model sent an empty reply"
                    )
                    outcome = UsageStatus.ERROR
        except ProviderError as error:
            failure = error
            # Usage reported means the provider billed a finished reply: charge it, not refund it.
            outcome = UsageStatus.OK if report.usage is not None else UsageStatus(error.kind)
        except GeneratorExit:
            outcome = UsageStatus.CANCELLED
            raise
        except BaseException as error:
            failure = unexpected(error)
            outcome = UsageStatus.ERROR
            raise
        finally:
            steps.close()
            with bound(self._ids):
                stream.close()
                self.result = self._settle(
                    outcome, "".join(pieces), report, started, first, failure
                )
        if outcome in FAILED and failure is not None:
            raise failed(failure, hold)

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
        base = gateway.settlement.measured(call.model, self._key)
        ttft = None if first is None else ms(first - started)
        model = call.model.litellm_model
        _log_ended(call, outcome, ms(time.monotonic() - started), ttft, failure, text)
        if outcome in FAILED:
            assert failure is not None
            gateway.settlement.failure(
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
                message=failure_message(failure),
            )
        # ok, or cancelled (stopped by the person, or past the deadline): the provider's own
        # figures when it sent them, else the prompt estimate plus the streamed text, counted.
        usage = report.usage or Usage(estimate.prompt_tokens, tokens.text_tokens(model, text))
        price = gateway.prices.version(hold.price_version_id)
        charge = min(token_cost(price, usage.input_tokens, usage.output_tokens), hold.amount)
        record = replace(
            base,
            status=outcome,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            latency_ms=ms(time.monotonic() - started),
            ttft_ms=ttft,
            usd_cost_nanos=nanos(report.usd_cost),
            error_type=failure.error_type if failure else None,
            error_message=_after_usage(failure) if outcome is UsageStatus.OK else None,
        )
        captured = gateway.settlement.capture(hold, charge, self._key, record)
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
            if outcome is UsageStatus.CANCELLED
            else None,
        )


def release_unsent(
    gateway: Gateway, caller: Caller, model: ModelEntry, hold: Hold, key: str, ids: CallIds
) -> None:
    """A reserved turn that was never streamed: release it (runs at most once, from ``close`` or
    when the turn is collected, so it must not raise)."""
    usage = replace(
        gateway.settlement.measured(model, key),
        status=UsageStatus.ERROR,
        error_type=NOT_SENT,
        error_message="closed before it was sent",
    )
    with bound(ids):
        try:
            gateway.settlement.release(hold, "not sent: nothing charged", key, usage)
        except Exception:
            log.exception("could not release unsent hold %s; it will expire instead", hold.id)


def _log_started(call: ChatCall) -> None:
    extra: dict[str, Any] = {"model": call.model.id, "provider": call.model.provider}
    if logs.prompts_logged():  # a debugging setting, off by default: prompts are private
        extra["prompt"] = prompt_text(call.messages)
    log.info("provider call started: %s", call.model.id, extra=extra)


def _log_ended(
    call: ChatCall,
    outcome: Status,
    latency_ms: int,
    ttft_ms: int | None,
    failure: ProviderError | None,
    text: str,
) -> None:
    extra: dict[str, Any] = {
        "model": call.model.id,
        "status": outcome,
        "latency_ms": latency_ms,
        "ttft_ms": ttft_ms,
        "error_type": failure.error_type if failure else None,
    }
    if logs.prompts_logged():
        extra["reply"] = text
    log.info("provider call ended: %s in %d ms", outcome, latency_ms, extra=extra)


def prompt_text(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    """The conversation as sent, for a debugging log line: each message's role and its text
    (a picture is shown as ``[picture]``, not its bytes)."""
    shown: list[dict[str, str]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            text = content
        else:
            parts = content if isinstance(content, list) else []
            text = " ".join(
                str(part.get("text", "")) if part.get("type") == "text" else "[picture]"
                for part in parts
                if isinstance(part, dict)
            )
        shown.append({"role": str(message.get("role", "")), "text": text})
    return shown


def _after_usage(failure: ProviderError | None) -> str | None:
    """What went wrong after the provider had reported the usage of a finished reply."""
    if failure is None:
        return None
    return redactor(f"after the provider reported its usage: {failure.message}")[:500]
