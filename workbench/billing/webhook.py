"""The webhook's door: only a fresh request signed with one of our webhook secrets is an event.

``stripe.Webhook.construct_event`` checks the ``Stripe-Signature`` header (``t=…,v1=…``: an
HMAC-SHA256 of ``"{t}.{raw body}"``) and refuses a timestamp older than its tolerance (5 minutes);
the raw body is what was signed, so it is read before anything parses it. Several secrets are
accepted while one is rotated (``STRIPE_WEBHOOK_SECRET=whsec_new,whsec_old``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import stripe

# Stripe's own default; a signature older than this is refused as a replay.
TOLERANCE_S = 300


MISMATCH = "signature does not match (another secret, or the body was changed)"
STALE = "signature is too old (over 5 minutes): a replayed or delayed request"


class WebhookRefused(Exception):
    """A request that is not a verified Stripe event (answered 400, nothing written)."""


def secrets_from(setting: str | None) -> list[str]:
    return [s.strip() for s in (setting or "").split(",") if s.strip()]


def verified_event(payload: bytes, signature: str | None, secrets: list[str]) -> dict[str, Any]:
    """The event ``payload`` holds, if ``signature`` is a fresh signature of it by one of
    ``secrets``; else ``WebhookRefused`` saying why (never which secret was tried)."""
    if not secrets:
        raise WebhookRefused("webhooks are not configured (STRIPE_WEBHOOK_SECRET is not set)")
    if not signature:
        raise WebhookRefused("missing Stripe-Signature header")
    signed_at = _timestamp(signature)
    if signed_at is not None and signed_at > time.time() + TOLERANCE_S:
        # construct_event refuses old timestamps but not future ones (DESIGN.md §5).
        raise WebhookRefused("signature timestamp is in the future")
    for secret in secrets:
        try:
            event = stripe.Webhook.construct_event(payload, signature, secret, TOLERANCE_S)
        except stripe.SignatureVerificationError:
            continue
        except (ValueError, AttributeError):
            # Not JSON (or not UTF-8); or, signed, JSON that is no object: the SDK then fails
            # building its Event with an AttributeError ("'list' object has no attribute 'get'").
            raise WebhookRefused("body is not a JSON Stripe event") from None
        data: dict[str, Any] = json.loads(payload) if event is not None else {}
        if not isinstance(data, dict):
            raise WebhookRefused("body is not a JSON Stripe event")
        return data
    if signed_at is not None and signed_at < time.time() - TOLERANCE_S:
        raise WebhookRefused(STALE)
    raise WebhookRefused(MISMATCH)


def _timestamp(signature: str) -> int | None:
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None
