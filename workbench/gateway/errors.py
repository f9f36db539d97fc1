"""Errors the gateway raises on purpose, each with a message a person can act on.

Refusals decided by the ledger (``InsufficientCredits``, ``CapExceeded``, ``RateLimited``,
``UnpricedModel``) reach callers as the ledger's own typed errors; these are the gateway's.
Messages never contain a provider key: provider text is redacted before it is put in one.

Each error is a dataclass: the facts beside the sentence are typed attributes
(``error.hold_id``), declared by the class that carries them, and ``fields`` lists them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ledger.errors import FactualError


@dataclass(eq=False)
class GatewayError(FactualError):
    code: ClassVar[str] = "gateway_error"


@dataclass(eq=False)
class InvalidRequest(GatewayError):
    """Bad input (empty prompt, too long, out-of-range numbers): nothing was charged or called."""

    code: ClassVar[str] = "invalid_request"


@dataclass(eq=False, kw_only=True)
class ModelUnavailable(GatewayError):
    """The model cannot be used (and falling back was not allowed, or the default is broken)."""

    model: str | None
    code: ClassVar[str] = "model_unavailable"


@dataclass(eq=False, kw_only=True)
class RequestInProgress(GatewayError):
    """The same idempotency key is being answered right now, in this or another process."""

    hold_id: int
    code: ClassVar[str] = "request_in_progress"


@dataclass(eq=False, kw_only=True)
class ProviderFailed(GatewayError):
    """The provider call failed; ``status`` is ``error`` or ``timeout``, and ``settlement``
    says what happened to the credits (released, or held until the hold expires)."""

    status: str
    settlement: str
    hold_id: int
    error_type: str | None = None
    expires_at: str | None = None
    code: ClassVar[str] = "provider_failed"


@dataclass(eq=False, kw_only=True)
class FeatureDisabled(GatewayError):
    """An operator switched the feature off (``ai_text_chat``, ``ai_image_generation``): the call
    was refused before any hold, nothing charged or called. ``detail`` is the operator's message
    (also in the sentence), or None."""

    feature_key: str
    detail: str | None
    code: ClassVar[str] = "feature_disabled"
