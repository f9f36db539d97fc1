"""Typed errors raised by the ledger.

Every refusal is a subclass of :class:`LedgerError` so callers can catch the family, and each
carries the facts a person needs (how much is available, which hold, which key) beside the
message. Each error is a dataclass: those facts are typed attributes (``error.available``),
declared by the class that carries them, so a raise site that passes a wrong or missing fact is
a type error; ``fields`` lists them by name. Errors that depend on the ledger's state at the time
of a call (not on the arguments alone) are *stored* with their idempotency key: replaying the same
request returns the same refusal. Those classes set ``stored = True`` and round-trip through
:meth:`LedgerError.to_payload` and :func:`error_from_payload` (type, message and fields; the
names of a stored class's fields are part of the stored format, so they never change).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(eq=False)
class FactualError(Exception):
    """An error as a sentence for a person plus typed facts beside it. The base of the ledger's
    errors and of the workbench's (``workbench.gateway.errors``), so both behave alike: ``str``
    is the message, ``fields`` the facts by name, and they pickle and copy with their facts."""

    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle (and copy) through the keywords: the default rebuilds from ``args`` alone.
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)[1:]}
        return (_rebuild, (type(self), self.message, values))

    @property
    def fields(self) -> dict[str, Any]:
        """The facts beside the message, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if _is_fact(f)}


def _is_fact(f: dataclasses.Field[Any]) -> bool:
    return f.name != "message" and f.metadata.get("fact", True)


def _rebuild(cls: type[FactualError], message: str, values: dict[str, Any]) -> FactualError:
    return cls(message, **values)


@dataclass(eq=False)
class LedgerError(FactualError):
    """Base class: every error the ledger raises on purpose."""

    # True when raised again from a stored outcome (an idempotent replay), not decided just now.
    # Not one of the error's facts: left out of ``fields`` and of the stored payload.
    replayed: bool = field(default=False, kw_only=True, repr=False, metadata={"fact": False})
    code: ClassVar[str] = "ledger_error"
    stored: ClassVar[bool] = False

    def to_payload(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "message": self.message, "fields": self.fields}


# --- bad input: raised before anything is read or written -------------------------------------


@dataclass(eq=False)
class InvalidInput(LedgerError):
    """A bad argument; the message names it and the value given."""

    code: ClassVar[str] = "invalid_input"


@dataclass(eq=False)
class InvalidAmount(InvalidInput):
    code: ClassVar[str] = "invalid_amount"


@dataclass(eq=False, kw_only=True)
class InvalidIdempotencyKey(InvalidInput):
    key: str  # as given, at most 200 characters
    code: ClassVar[str] = "invalid_idempotency_key"


@dataclass(eq=False)
class MissingReason(InvalidInput):
    code: ClassVar[str] = "missing_reason"


@dataclass(eq=False)
class AlreadyExists(InvalidInput):
    """A workspace slug, username or membership that is taken (named in the message)."""

    code: ClassVar[str] = "already_exists"


# --- things that do not exist ------------------------------------------------------------------


@dataclass(eq=False)
class NotFound(LedgerError):
    code: ClassVar[str] = "not_found"


@dataclass(eq=False, kw_only=True)
class UnknownAccount(NotFound):
    account_id: int
    code: ClassVar[str] = "unknown_account"


@dataclass(eq=False)
class UnknownWorkspace(NotFound):
    """No workspace with that id or slug (named in the message)."""

    code: ClassVar[str] = "unknown_workspace"


@dataclass(eq=False)
class UnknownUser(NotFound):
    """No user with that id, username or email, or not a member (named in the message)."""

    code: ClassVar[str] = "unknown_user"


@dataclass(eq=False, kw_only=True)
class UnknownHold(NotFound):
    hold_id: int
    code: ClassVar[str] = "unknown_hold"


@dataclass(eq=False, kw_only=True)
class UnknownFeature(NotFound):
    feature_key: str
    code: ClassVar[str] = "unknown_feature"


@dataclass(eq=False, kw_only=True)
class UnpricedModel(NotFound):
    """The model has no current price: it cannot be reserved against (fail closed). ``model`` is
    None when a price version was asked for by id."""

    model: str | None = None
    code: ClassVar[str] = "unpriced_model"


@dataclass(eq=False, kw_only=True)
class NotAMember(LedgerError):
    user_id: int
    account_id: int
    code: ClassVar[str] = "not_a_member"


@dataclass(eq=False, kw_only=True)
class NotAllowed(LedgerError):
    """The acting user's level does not allow the action (``action``): an operator's action asked
    by a workspace admin or member, or a workspace admin's asked for a workspace they do not run
    (``workspace_id``; None for a platform-wide action)."""

    actor_user_id: int
    action: str
    workspace_id: int | None = None
    code: ClassVar[str] = "not_allowed"


@dataclass(eq=False, kw_only=True)
class UserDeactivated(LedgerError):
    """The user was deactivated: they can no longer sign in or spend (their history stays)."""

    user_id: int
    code: ClassVar[str] = "user_deactivated"


# --- refusals that depend on the ledger's state (stored with the idempotency key) ---------------


@dataclass(eq=False, kw_only=True)
class InsufficientCredits(LedgerError):
    account_id: int
    available: int  # micro-credits
    needed: int
    code: ClassVar[str] = "insufficient_credits"
    stored: ClassVar[bool] = True


@dataclass(eq=False, kw_only=True)
class CapExceeded(LedgerError):
    account_id: int
    user_id: int
    cap: int  # micro-credits a month
    used: int
    needed: int
    code: ClassVar[str] = "cap_exceeded"
    stored: ClassVar[bool] = True


@dataclass(eq=False, kw_only=True)
class HoldNotPending(LedgerError):
    """The hold was already resolved; ``status`` says how (captured, released or expired)."""

    hold_id: int
    status: str
    code: ClassVar[str] = "hold_not_pending"
    stored: ClassVar[bool] = True


@dataclass(eq=False)
class HoldAlreadyCaptured(HoldNotPending):
    code: ClassVar[str] = "hold_already_captured"


@dataclass(eq=False)
class HoldReleased(HoldNotPending):
    code: ClassVar[str] = "hold_released"


@dataclass(eq=False)
class HoldExpired(HoldNotPending):
    code: ClassVar[str] = "hold_expired"


@dataclass(eq=False, kw_only=True)
class CaptureExceedsHold(LedgerError):
    hold_id: int
    held: int  # micro-credits
    requested: int
    code: ClassVar[str] = "capture_exceeds_hold"
    stored: ClassVar[bool] = True


@dataclass(eq=False, kw_only=True)
class RateLimited(LedgerError):
    """Too many calls by one user; ``limit`` says which (``per_minute`` or ``concurrent``) and
    ``retry_after_s`` when to try again. Not stored: the same key may be tried again once the
    limit has room."""

    limit: str
    retry_after_s: int
    code: ClassVar[str] = "rate_limited"


@dataclass(eq=False, kw_only=True)
class IdempotencyConflict(LedgerError):
    """The key was used before with a different request."""

    scope: str
    key: str
    code: ClassVar[str] = "idempotency_conflict"


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
    return cls(str(payload["message"]), **dict(payload["fields"]), replayed=True)
