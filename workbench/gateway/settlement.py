"""How a call's hold ends, and what its usage row says: the refund policy in one place.

- a refusal before any hold (no credits, a cap, a rate limit, an unpriced model, a feature switched
  off) is a ``refused`` usage row with nothing charged;
- a provider error releases the whole hold, with the row, in one transaction (unless the provider
  had already reported the reply's usage: that is charged, see ``chat_turn``);
- a timeout leaves the outcome unknown: the hold stays until it expires (the sweeper's ``expire``
  line returns it) and the row says ``timeout``;
- success or a stop captures what was used (see ``chat_turn`` and ``image_call``).

Every usage row the gateway writes is written here (``refusal``, ``capture``, ``release``,
``failure``), so this is also where each call is counted once in the metrics
(``workbench.observability.metrics``) and its "usage row written" line is logged.

Nothing here calls Streamlit: these run in ``finally`` blocks that a rerun must not interrupt.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from ledger.amounts import format_credits
from ledger.errors import LedgerError
from ledger.holds import Hold
from ledger.service import HoldOutcome, Ledger
from ledger.statuses import ProviderOutcome, UsageStatus
from ledger.usage import CallUsage
from workbench.gateway.caller import Caller
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.errors import GatewayError, ProviderFailed
from workbench.gateway.keys import redactor
from workbench.gateway.providers.base import ProviderError
from workbench.observability import metrics
from workbench.observability.metrics import NOT_SENT

log = logging.getLogger("workbench.gateway")


class Settlement:
    """Writes the usage rows and ends the holds of one gateway's calls."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def measured(self, entry: ModelEntry, key: str) -> CallUsage:
        """The start of a call's usage row: its provider and key. Who, what and the charge are the
        ledger's to add, from the call's hold."""
        return CallUsage(provider=entry.provider, status=UsageStatus.OK, idempotency_key=key)

    def refusal(
        self,
        caller: Caller,
        entry: ModelEntry,
        feature: str,
        key: str,
        refusal: LedgerError | GatewayError,
    ) -> None:
        reason = type(refusal).__name__
        usage_id = self.ledger.record_refusal(
            account_id=caller.account_id,
            user_id=caller.user_id,
            feature_key=feature,
            model=entry.price,
            usage=CallUsage(
                provider=entry.provider,
                status=UsageStatus.REFUSED,
                error_type=reason,
                error_message=refusal.message,
                idempotency_key=key,
            ),
        )
        metrics.call_refused(entry.price, feature, reason)
        log.info(
            "usage row written: refused (%s)",
            reason,
            extra={"usage_id": usage_id, "status": UsageStatus.REFUSED.value, "model": entry.id},
        )

    def capture(self, hold: Hold, amount: int, key: str, usage: CallUsage) -> Hold:
        """Charge ``amount`` (at most the hold), release the rest, write ``usage``: one
        transaction. Returns the hold as it ended."""
        return self._settled(self.ledger.capture(hold.id, amount, key=key, usage=usage), usage)

    def release(self, hold: Hold, reason: str, key: str, usage: CallUsage) -> Hold:
        """Give the whole hold back and write ``usage``: one transaction."""
        return self._settled(
            self.ledger.release(hold.id, reason=reason, key=key, usage=usage), usage
        )

    def failure(
        self,
        hold: Hold,
        base: CallUsage,
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
            latency_ms=ms(time.monotonic() - started),
            ttft_ms=ttft_ms,
            error_type=error.error_type,
            error_message=redactor(error.message),
        )
        if error.kind is ProviderOutcome.TIMEOUT:
            usage_id = self.ledger.record_timeout(hold.id, usage)
            metrics.call_settled(hold, usage, 0)
            log.warning(
                "call timed out model=%s hold=%s: hold kept until %s",
                hold.model,
                hold.id,
                hold.expires_at.isoformat(),
                extra={"error_type": error.error_type},
            )
            log.info(
                "usage row written: timeout, hold kept",
                extra={
                    "usage_id": usage_id,
                    "model": hold.model,
                    "status": usage.status,
                    "credits_micros": 0,
                },
            )
            return
        log.warning(
            "call failed model=%s hold=%s error=%s",
            hold.model,
            hold.id,
            error.error_type,
            extra={"error_type": error.error_type},
        )
        self.release(hold, f"provider error ({error.error_type}): nothing charged", key, usage)

    def _settled(self, outcome: HoldOutcome, usage: CallUsage) -> Hold:
        """Count and log a hold's end, once: a replayed capture or release was counted when it
        first happened."""
        hold = outcome.hold
        if outcome.replayed:
            return hold
        captured = hold.captured or 0
        metrics.call_settled(hold, usage, captured)
        log.info(
            "usage row written: %s, %s credits",
            usage.status,
            format_credits(captured, exact=True),
            extra={
                "model": hold.model,
                "status": usage.status,
                "hold_status": hold.status,
                "credits_micros": captured,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "images": usage.images,
                "error_type": usage.error_type,
            },
        )
        return hold


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def nanos(usd: float | None) -> int | None:
    return None if usd is None else round(usd * 1_000_000_000)


def replay_message(status: str, error_type: str | None) -> str:
    if status in (UsageStatus.OK, UsageStatus.CANCELLED):
        return "This message was already answered; it was not sent again."
    if error_type == NOT_SENT:
        return "This message was not sent (the page was interrupted) and nothing was charged."
    return f"This message already failed ({status}); nothing more was charged."


def unexpected(error: BaseException) -> ProviderError:
    return ProviderError(ProviderOutcome.ERROR, type(error).__name__, redactor(str(error))[:500])


def failure_message(error: ProviderError) -> str:
    if error.kind is ProviderOutcome.TIMEOUT:
        return (
            "The model did not answer in time. The credits held for it stay reserved until the "
            "hold expires, then come back to you automatically."
        )
    return f"The model's service failed ({error.error_type}). Nothing was charged."


def failed(error: ProviderError, hold: Hold) -> ProviderFailed:
    return ProviderFailed(
        failure_message(error),
        status=error.kind,
        error_type=error.error_type,
        settlement="held until expiry" if error.kind is ProviderOutcome.TIMEOUT else "released",
        hold_id=hold.id,
        expires_at=hold.expires_at.isoformat() if error.kind is ProviderOutcome.TIMEOUT else None,
    )
