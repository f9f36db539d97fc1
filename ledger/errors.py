"""Typed errors raised by the ledger.

Every refusal is a subclass of :class:`LedgerError` so callers can catch the family, and each
carries the facts a person needs (how much is available, which hold, which key) as attributes, not
only inside the message. Errors that depend on the ledger's state at the time of a call (not on the
arguments alone) are *stored* with their idempotency key: replaying the same request returns the
same refusal. Those classes set ``stored = True`` and round-trip through :meth:`to_payload`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base class: every error the ledger raises on purpose."""

    code: ClassVar[str] = "ledger_error"
    stored: ClassVar[bool] = False
    # True when raised again from a stored outcome (an idempotent replay), not decided just now.
    replayed: bool = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def to_payload(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "message": self.message, "fields": self.fields}

    def __getattr__(self, name: str) -> Any:
        # Lets callers write ``err.available`` for the fields given to the constructor.
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)


# --- bad input: raised before anything is read or written -------------------------------------


class InvalidInput(LedgerError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class InvalidIdempotencyKey(InvalidInput):
    code = "invalid_idempotency_key"


class MissingReason(InvalidInput):
    code = "missing_reason"


class AlreadyExists(InvalidInput):
    """A workspace slug, username or membership that is taken."""

    code = "already_exists"


# --- things that do not exist ------------------------------------------------------------------


class NotFound(LedgerError):
    code = "not_found"


class UnknownAccount(NotFound):
    code = "unknown_account"


class UnknownWorkspace(NotFound):
    code = "unknown_workspace"


class UnknownUser(NotFound):
    code = "unknown_user"


class UnknownHold(NotFound):
    code = "unknown_hold"


class UnknownFeature(NotFound):
    code = "unknown_feature"


class UnpricedModel(NotFound):
    """The model has no current price: it cannot be reserved against (fail closed)."""

    code = "unpriced_model"


class NotAMember(LedgerError):
    code = "not_a_member"


# --- refusals that depend on the ledger's state (stored with the idempotency key) ---------------


class InsufficientCredits(LedgerError):
    code = "insufficient_credits"
    stored = True


class CapExceeded(LedgerError):
    code = "cap_exceeded"
    stored = True


class HoldNotPending(LedgerError):
    """The hold was already resolved; ``status`` says how (captured, released or expired)."""

    code = "hold_not_pending"
    stored = True


class HoldAlreadyCaptured(HoldNotPending):
    code = "hold_already_captured"


class HoldReleased(HoldNotPending):
    code = "hold_released"


class HoldExpired(HoldNotPending):
    code = "hold_expired"


class CaptureExceedsHold(LedgerError):
    code = "capture_exceeds_hold"
    stored = True


class RateLimited(LedgerError):
    """Too many calls by one user; ``retry_after_s`` says when to try again. Not stored: the same
    key may be tried again once the limit has room."""

    code = "rate_limited"


class IdempotencyConflict(LedgerError):
    """The key was used before with a different request."""

    code = "idempotency_conflict"


_STORED: dict[str, type[LedgerError]] = {
    cls.__name__: cls
    for cls in (
        InsufficientCredits,
        CapExceeded,
        HoldNotPending,
        HoldAlreadyCaptured,
        HoldReleased,
        HoldExpired,
        CaptureExceedsHold,
    )
}


def error_from_payload(payload: dict[str, Any]) -> LedgerError:
    """Rebuild a stored refusal so a replay raises exactly what the first call raised."""
    cls = _STORED[str(payload["type"])]
    error = cls(str(payload["message"]), **dict(payload["fields"]))
    error.replayed = True
    return error
