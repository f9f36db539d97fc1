"""Refusals and failures as plain sentences for people (tracebacks go to the server log)."""

from __future__ import annotations

from ledger.errors import (
    CapExceeded,
    IdempotencyConflict,
    InsufficientCredits,
    LedgerError,
    RateLimited,
    UnpricedModel,
)
from workbench.gateway.errors import FeatureDisabled, GatewayError


def explain(error: Exception) -> str:
    if isinstance(error, InsufficientCredits):
        return (
            f"Not enough credits: this needs about {error.needed:,} and your workspace has "
            f"{error.available:,} available. Nothing was charged."
        )
    if isinstance(error, CapExceeded):
        return (
            f"This would pass your monthly spending cap of {error.cap:,} credits "
            f"({error.used:,} used so far). Nothing was charged."
        )
    if isinstance(error, RateLimited):
        return (
            f"You are sending requests faster than allowed; try again in "
            f"{error.retry_after_s} s. Nothing was charged."
        )
    if isinstance(error, UnpricedModel):
        return "That model has no price yet, so it cannot be used. Ask an admin to price it."
    if isinstance(error, FeatureDisabled):
        # "Chat is switched off for now." and the operator's message, as the gateway put it.
        return error.message
    if isinstance(error, IdempotencyConflict):
        return "That request was already sent with different settings; please send it again."
    if isinstance(error, GatewayError | LedgerError):
        return error.message
    return "Something went wrong on our side; it has been logged. Nothing was charged."


def concerns_credits(error: Exception) -> bool:
    """Refusals that My credits explains (balance, cap, limits): shown with a link to it."""
    return isinstance(error, InsufficientCredits | CapExceeded | RateLimited)


def credits(amount: int) -> str:
    """``1 credit``, ``1,250 credits``."""
    return f"{amount:,} credit{'' if amount == 1 else 's'}"
