"""The Stripe webhook over HTTP: ``POST /webhooks/stripe``.

Stripe signs the raw body (``Stripe-Signature: t=…,v1=…``), so the body is read as bytes, capped,
and handed unparsed to ``Billing.receive``, which verifies it and acts on the event once
(``workbench.billing``). The ledger is synchronous, so that runs in the thread pool. Answers, all
JSON:

- 200 ``{"received": true, "id", "type", "outcome"}`` (plus ``"duplicate": true`` for an event
  already handled): Stripe stops retrying.
- 400 ``{"error": …}``: not a verified Stripe event (no or a wrong signature, stale, not JSON);
  nothing was written. Stripe would send the same bytes again, so retrying cannot help.
- 413: a body over :data:`MAX_BODY_BYTES`, refused before it is read (Stripe's events are a few
  kilobytes).
- 500: anything else (the database away, a bug), logged with its traceback; the event's
  transaction rolled back, so Stripe's retry tries it afresh.

No session cookie, sign-in gate or Origin check applies: the signature is the only credential.
The same route serves on the app's own server (``workbench.web.routes``) and on its own
(:func:`standalone_app`, ``workbench webhook serve``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ledger.errors import InvalidInput
from workbench.billing.events import EventOutcome
from workbench.billing.service import Billing
from workbench.billing.webhook import WebhookRefused
from workbench.web import headers

log = logging.getLogger("workbench.web.stripe_webhook")

WEBHOOK_PATH = "/webhooks/stripe"
# Stripe's largest events are well under this; anything bigger is not Stripe.
MAX_BODY_BYTES = 1_000_000
RETRY_LATER = "the event could not be handled now; Stripe will retry it"

BillingSource = Callable[[], Billing]


def shared_billing() -> Billing:
    # Imported here: the command line imports this module for `workbench webhook serve`, and
    # the services' module brings the gateway (and litellm) with it, seconds on every command.
    from workbench import bootstrap

    return bootstrap.services().billing


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    # Counted as it arrives too: a chunked body declares no length.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _receive(billing: BillingSource, payload: bytes, signature: str | None) -> EventOutcome:
    # In the worker thread: the first use of the shared services builds them (and migrates).
    return billing().receive(payload, signature)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def endpoint(billing: BillingSource) -> Callable[[Request], Awaitable[Response]]:
    """The request handler, acting through ``billing()`` (the process's shared services on the
    app's server; a test's own in tests)."""

    async def receive(request: Request) -> Response:
        try:
            payload = await _body(request, MAX_BODY_BYTES)
        except _TooLarge:
            log.warning("Stripe webhook refused: body over %d bytes", MAX_BODY_BYTES)
            return _error(f"body is larger than {MAX_BODY_BYTES} bytes", 413)
        signature = request.headers.get("stripe-signature")
        try:
            outcome = await run_in_threadpool(_receive, billing, payload, signature)
        except WebhookRefused as refused:
            # Only the reason: never the payload or the signature.
            log.warning("Stripe webhook refused: %s", refused)
            return _error(str(refused), 400)
        except InvalidInput as bad:
            # Signed by Stripe, but not an event (no id, type or object): a retry is the same.
            log.warning("Stripe webhook refused: %s", bad.message)
            return _error(bad.message, 400)
        except Exception:
            log.exception("Stripe webhook failed; answered 500 so that Stripe retries")
            return _error(RETRY_LATER, 500)
        log.info(
            "Stripe webhook %s (%s): %s%s",
            outcome.event_id,
            outcome.type,
            outcome.outcome,
            " [duplicate]" if outcome.duplicate else "",
        )
        answer: dict[str, object] = {
            "received": True,
            "id": outcome.event_id,
            "type": outcome.type,
            "outcome": outcome.outcome,
        }
        if outcome.duplicate:
            answer["duplicate"] = True
        return JSONResponse(answer)

    return receive


def routes(billing: BillingSource = shared_billing) -> list[BaseRoute]:
    return [Route(WEBHOOK_PATH, endpoint(billing), methods=["POST"])]


def standalone_app(billing: BillingSource) -> Starlette:
    """Only the webhook, with the security headers the app's server puts on everything: for
    ``workbench webhook serve`` (which opens the services and closes them after) and the
    tests."""
    return Starlette(routes=routes(billing), middleware=headers.middleware())
