"""Errors the gateway raises on purpose, each with a message a person can act on.

Refusals decided by the ledger (``InsufficientCredits``, ``CapExceeded``, ``RateLimited``,
``UnpricedModel``) reach callers as the ledger's own typed errors; these are the gateway's.
Messages never contain a provider key: provider text is redacted before it is put in one.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    code = "gateway_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields


class InvalidRequest(GatewayError):
    """Bad input (empty prompt, too long, out-of-range numbers): nothing was charged or called."""

    code = "invalid_request"


class ModelUnavailable(GatewayError):
    """The model cannot be used (and falling back was not allowed, or the default is broken)."""

    code = "model_unavailable"


class RequestInProgress(GatewayError):
    """The same idempotency key is being answered right now, in this or another process."""

    code = "request_in_progress"


class ProviderFailed(GatewayError):
    """The provider call failed; ``status`` is ``error`` or ``timeout``, and ``settlement``
    says what happened to the credits (released, or held until the hold expires)."""

    code = "provider_failed"


class FeatureDisabled(GatewayError):
    """An operator switched the feature off (``ai_text_chat``, ``ai_image_generation``): the call
    was refused before any hold, nothing charged or called. ``feature_key``; ``detail`` is the
    operator's message (also in the sentence), or None."""

    code = "feature_disabled"
