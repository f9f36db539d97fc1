"""The app's only door to Stripe: a thin wrapper over ``stripe.StripeClient`` (stripe-python 16).

Every method returns plain dicts (``to_dict(for_json=True)``: SDK objects are not dicts, and
Decimals become strings) and raises :class:`StripeFailure`, with a message a person can read,
for anything Stripe refuses or that cannot reach Stripe. The secret key never appears in a
message or log line: it is registered with the process-wide log redaction
(``workbench.gateway.keys``, installed here too) and scrubbed from any text Stripe sends back.

Requests go through ``stripe.RequestsClient`` with the configured timeout and one network retry;
the SDK resends a POST with the same ``Idempotency-Key``, so a retry cannot pay twice.

Off-session payments (auto top-up) name the card explicitly: Stripe does not use a customer's
``invoice_settings.default_payment_method`` for a PaymentIntent by itself (only for invoices). The
card is that default when set, else the customer's newest saved payment method (Checkout saves one
with ``setup_future_usage=off_session``, and a subscription's card is attached to the customer);
without one the payment is refused with code ``no_payment_method`` before Stripe is asked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Literal

import stripe
from stripe.params import CustomerCreateParams, PaymentIntentCreateParams
from stripe.params.billing_portal import SessionCreateParams as PortalSessionCreateParams
from stripe.params.checkout import SessionCreateParams

from workbench.config import Settings
from workbench.gateway.keys import REDACTED, install_log_redaction, redactor

log = logging.getLogger("workbench.billing")

# Any Stripe secret or restricted key, whole or masked as Stripe echoes it ("sk_test_****abcd").
_KEY_PATTERN = re.compile(r"\b[sr]k_(?:test|live)_[0-9A-Za-z*]*")

# Stripe's decline codes, in words for the person who pressed the button.
_DECLINE_REASONS = {
    "insufficient_funds": "insufficient funds",
    "expired_card": "the card has expired",
    "incorrect_cvc": "incorrect security code",
    "authentication_required": "the bank asks the cardholder to approve it (buy a pack once "
    "by hand to renew the approval)",
    "card_velocity_exceeded": "the card's limit was reached",
}


class StripeFailure(Exception):
    """Stripe refused, or could not be reached. ``message`` is fit to show; ``code`` is Stripe's
    error code or one of ours: unreachable, authentication, permission, idempotency,
    rate_limited, invalid_request, no_payment_method, stripe_error."""

    def __init__(self, message: str, code: str, *, payment_intent: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # A declined off-session payment leaves a PaymentIntent behind: its id, for the record.
        self.payment_intent = payment_intent


class StripeApi:
    def __init__(
        self,
        secret_key: str,
        api_base: str | None = None,
        timeout_s: float = 20.0,
        *,
        max_network_retries: int = 1,
    ) -> None:
        if not secret_key:
            raise ValueError("a Stripe secret key is required")
        # The SDK logs request bodies at debug level, and Stripe's answers may quote what it was
        # sent: the key is redacted from every log record of the process, as provider keys are.
        redactor.add([secret_key])
        install_log_redaction()
        self._secret_key = secret_key
        self._api_base = api_base
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.RequestsClient(timeout=timeout_s),
            max_network_retries=max_network_retries,
        )

    @classmethod
    def from_settings(cls, config: Settings) -> StripeApi | None:
        """None when no secret key is configured: purchases are then not offered."""
        if config.stripe_secret_key is None:
            return None
        return cls(
            config.stripe_secret_key.get_secret_value(),
            config.stripe_api_base,
            config.stripe_timeout_s,
        )

    def __repr__(self) -> str:
        return f"StripeApi(api_base={self._api_base!r})"

    # --- customers and checkout -----------------------------------------------------------------

    def create_customer(
        self, *, workspace_id: int, name: str, idempotency_key: str
    ) -> dict[str, Any]:
        params: CustomerCreateParams = {
            "name": name,
            "metadata": {"workspace_id": str(workspace_id)},
        }
        return self._call(
            lambda: self._client.v1.customers.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        )

    def create_checkout_session(
        self,
        *,
        mode: Literal["payment", "subscription"],
        price: str,
        customer: str | None,
        client_reference_id: str,
        metadata: dict[str, str],
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        save_payment_method: bool = False,
    ) -> dict[str, Any]:
        """A hosted Checkout Session for one unit of ``price``. The metadata is also put on what
        the payment makes (the PaymentIntent, or the subscription), which the webhook reads.
        ``save_payment_method`` (mode payment) keeps the card for off-session top-ups; a
        subscription keeps its card anyway."""
        params: SessionCreateParams = {
            "mode": mode,
            "line_items": [{"price": price, "quantity": 1}],
            "client_reference_id": client_reference_id,
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if customer is not None:
            params["customer"] = customer
        elif mode == "payment":
            # Without it a one-off payment leaves no Customer to charge or bill again later.
            params["customer_creation"] = "always"
        if mode == "payment":
            params["payment_intent_data"] = {"metadata": metadata}
            if save_payment_method:
                params["payment_intent_data"]["setup_future_usage"] = "off_session"
        else:
            params["subscription_data"] = {"metadata": metadata}
        return self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        )

    def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]:
        _require_id(session_id, "Checkout Session")
        return self._call(lambda: self._client.v1.checkout.sessions.retrieve(session_id))

    def create_portal_session(self, *, customer: str, return_url: str) -> dict[str, Any]:
        params: PortalSessionCreateParams = {"customer": customer, "return_url": return_url}
        return self._call(lambda: self._client.v1.billing_portal.sessions.create(params=params))

    # --- off-session payments -------------------------------------------------------------------

    def create_off_session_payment(
        self,
        *,
        customer: str,
        amount_cents: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> dict[str, Any]:
        """Charge the customer's saved card now, without them (see the module's note on which
        card). A decline raises StripeFailure with Stripe's code and the PaymentIntent's id."""
        params: PaymentIntentCreateParams = {
            "amount": amount_cents,
            "currency": currency,
            "customer": customer,
            "payment_method": self._saved_payment_method(customer),
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        }
        return self._call(
            lambda: self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        )

    def _saved_payment_method(self, customer_id: str) -> str:
        _require_id(customer_id, "customer")
        customer = self._call(lambda: self._client.v1.customers.retrieve(customer_id))
        if customer.get("deleted"):
            raise StripeFailure("The workspace's Stripe customer was deleted", "no_payment_method")
        default = (customer.get("invoice_settings") or {}).get("default_payment_method")
        if isinstance(default, dict):  # expanded
            default = default.get("id")
        if isinstance(default, str) and default:
            return default
        listed = self._call(
            lambda: self._client.v1.customers.payment_methods.list(customer_id, params={"limit": 1})
        )
        methods = listed.get("data") or []
        if not methods:
            raise StripeFailure(
                "No saved card to charge: buy a pack once with the card saved for top-ups",
                "no_payment_method",
            )
        return str(methods[0]["id"])

    # --- retrieving -----------------------------------------------------------------------------

    def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        _require_id(subscription_id, "subscription")
        return self._call(lambda: self._client.v1.subscriptions.retrieve(subscription_id))

    def retrieve_charge(self, charge_id: str) -> dict[str, Any]:
        _require_id(charge_id, "charge")
        return self._call(lambda: self._client.v1.charges.retrieve(charge_id))

    def retrieve_price(self, price_id: str) -> dict[str, Any]:
        _require_id(price_id, "price")
        return self._call(lambda: self._client.v1.prices.retrieve(price_id))

    # --- errors ---------------------------------------------------------------------------------

    def _call(self, request: Callable[[], stripe.StripeObject]) -> dict[str, Any]:
        try:
            return request().to_dict(for_json=True)
        except stripe.StripeError as exc:
            failure = self._failure(exc)
            log.warning(
                "Stripe request failed: %s (%s, HTTP %s, request %s)",
                failure.code,
                type(exc).__name__,
                exc.http_status,
                exc.request_id,
            )
        # Raised outside the handler, so not even ``__context__`` keeps the SDK's exception and
        # Stripe's raw text with it.
        raise failure

    def _failure(self, exc: stripe.StripeError) -> StripeFailure:
        said = self._scrub(exc.user_message or "")
        if isinstance(exc, stripe.CardError):
            error = exc.error
            decline = (error.decline_code if error else None) or exc.code or ""
            reason = _DECLINE_REASONS.get(decline, "card declined")
            intent = error.payment_intent.id if error and error.payment_intent else None
            return StripeFailure(
                f"Stripe refused the payment: {reason}",
                exc.code or "card_declined",
                payment_intent=intent,
            )
        if isinstance(exc, stripe.APIConnectionError):
            return StripeFailure(
                "Stripe could not be reached (network error or timeout); try again shortly",
                "unreachable",
            )
        if isinstance(exc, stripe.AuthenticationError):
            return StripeFailure(
                "Stripe refused the secret key: check STRIPE_SECRET_KEY", "authentication"
            )
        if isinstance(exc, stripe.PermissionError):
            return StripeFailure("The Stripe key is not allowed to do this", "permission")
        if isinstance(exc, stripe.IdempotencyError):
            return StripeFailure(
                "Stripe already had this request with other details (same idempotency key)",
                "idempotency",
            )
        if isinstance(exc, stripe.RateLimitError):
            return StripeFailure("Stripe is busy (rate limited); try again shortly", "rate_limited")
        if isinstance(exc, stripe.InvalidRequestError):
            return StripeFailure(
                f"Stripe refused the request: {said}", exc.code or "invalid_request"
            )
        return StripeFailure(
            f"Stripe failed to answer (HTTP {exc.http_status or 'none'})", "stripe_error"
        )

    def _scrub(self, text: str) -> str:
        return _KEY_PATTERN.sub(REDACTED, text.replace(self._secret_key, REDACTED))


def _require_id(value: str, what: str) -> None:
    # An empty id would make the SDK ask for the whole collection instead of one object.
    if not value:
        raise StripeFailure(f"No {what} id to look up", "invalid_request")
