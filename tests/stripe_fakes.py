"""A loopback Stripe API for the tests (and, re-exported, the Stripe object and event builders and
the webhook signer of ``tests.stripe_objects`` and ``tests.stripe_events``).

:func:`running_fake_stripe` serves enough of Stripe's REST API on 127.0.0.1 for the real
``stripe`` SDK (16.1) to talk to it::

    with running_fake_stripe() as fake:
        fake.add_price("price_pack", unit_amount=1000)
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.base_url})
        session = client.v1.checkout.sessions.create(params={...}, options={"idempotency_key": k})
        fake.complete_session(session.id)             # what the customer paying would do
        body, headers = signed(checkout_completed(fake.get(session.id)), "whsec_test")

As Stripe: requests are form-encoded (``line_items[0][price]``), answers JSON; errors are
``{"error": {"type", "code", "message", "param"}}`` with Stripe's status codes (400 invalid request,
401 bad key, 402 card declined, 404 unknown object or URL); a POST's ``Idempotency-Key`` replays
the first answer for the same parameters (header ``Idempotent-Replayed: true``) and refuses other
parameters (400 ``idempotency_error``); a request refused while validating its parameters is not
remembered, a card decline is. Requests are handled one at a time (one lock), so concurrent
requests with one key cannot both execute.

Only API calls (``/v1/...``) are recorded in :attr:`FakeStripe.requests`; the hosted pages are not
(``/pay/<session>`` is a tiny checkout whose Pay button completes the session and redirects to its
success URL; ``/portal/<id>`` a placeholder billing portal).

Object shapes follow the 2026 API (``API_VERSION``; see ``tests.stripe_objects``). A Checkout
Session does not echo ``payment_intent_data`` or ``subscription_data``
(:meth:`FakeStripe.session_params` has them). A charge made by a PaymentIntent carries no
metadata here: code must reach the payment through ``charge.payment_intent``, which works whether
or not Stripe copies metadata.
"""

from __future__ import annotations

import contextlib
import copy
import html
import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from tests.stripe_events import (
    charge_refunded,
    checkout_async_failed,
    checkout_async_succeeded,
    checkout_completed,
    dispute_closed,
    event,
    invoice_paid,
    payment_intent_event,
    sign,
    signed,
    subscription_event,
)
from tests.stripe_objects import (
    API_VERSION,
    MONTH,
    Obj,
    charge_object,
    customer_object,
    dispute_object,
    invoice_object,
    listing,
    new_id,
    now,
    payment_intent_object,
    payment_method_object,
    price_object,
    subscription_object,
)

__all__ = [
    "API_VERSION",
    "FakeStripe",
    "StripeRequest",
    "charge_object",
    "charge_refunded",
    "checkout_async_failed",
    "checkout_async_succeeded",
    "checkout_completed",
    "customer_object",
    "decode_form",
    "dispute_closed",
    "dispute_object",
    "event",
    "invoice_object",
    "invoice_paid",
    "new_id",
    "payment_intent_event",
    "payment_intent_object",
    "payment_method_object",
    "price_object",
    "running_fake_stripe",
    "sign",
    "signed",
    "subscription_event",
    "subscription_object",
]


# --- request decoding ---------------------------------------------------------------------------

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def decode_form(body: str) -> Obj:
    """Stripe's bracketed form encoding as nested dicts and lists; values stay strings, as sent."""
    root: Obj = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    decoded: Obj = _as_lists(root)
    return decoded


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _as_lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


@dataclass(frozen=True)
class StripeRequest:
    method: str
    path: str
    params: Obj  # nested; the form body of a POST, the query of a GET
    idempotency_key: str | None
    headers: dict[str, str]  # names in lower case
    status: int  # what the fake answered


class _Refusal(Exception):
    """An error answer. ``remembered``: the endpoint had begun executing, so Stripe would replay it
    for the same idempotency key (a card decline); a validation failure is not remembered."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: Obj | None = None,
        remembered: bool = False,
    ) -> None:
        super().__init__(message)
        error: Obj = {"type": type_, "message": message}
        if code:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            error["param"] = param
        error.update(extra or {})
        self.status = status
        self.body: Obj = {"error": error}
        self.remembered = remembered


def _missing(kind: str, obj_id: str, param: str) -> _Refusal:
    return _Refusal(
        404 if param == "id" else 400,
        f"No such {kind}: '{obj_id}'",
        code="resource_missing",
        param=param,
    )


def _metadata(value: Any, param: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _Refusal(400, f"Invalid object: {param} must be a hash", param=param)
    for key, item in value.items():
        if len(key) > 40 or not isinstance(item, str) or len(item) > 500:
            raise _Refusal(400, f"Invalid {param}[{key[:40]}]", param=f"{param}[{key[:40]}]")
    return {key: item for key, item in value.items() if item != ""}


def _flag(value: Any) -> bool:
    return bool(value == "true")


# --- the fake -----------------------------------------------------------------------------------


class FakeStripe:
    """State and behaviour of the loopback Stripe; every method is safe from any thread."""

    def __init__(self, api_key: str | None = None) -> None:
        self.base_url = ""
        self.api_key = api_key  # None: any ``sk_…`` key is accepted
        self.requests: list[StripeRequest] = []
        self._lock = threading.RLock()
        self._objects: dict[str, Obj] = {}
        self._session_params: dict[str, Obj] = {}
        self._idempotent: dict[str, tuple[tuple[str, str, Obj], int, Obj]] = {}
        self._declines: deque[str] = deque()
        self._hangs = 0
        self.released = threading.Event()  # set at shutdown: lets hanging requests go

    # --- seeding and inspecting -----------------------------------------------------------------

    def add_price(
        self,
        price_id: str,
        unit_amount: int = 1000,
        currency: str = "usd",
        recurring_interval: str | None = None,
        product: str | None = None,
    ) -> Obj:
        return self.put(price_object(price_id, unit_amount, currency, recurring_interval, product))

    def add_customer(
        self, customer_id: str | None = None, *, name: str | None = None, email: str | None = None
    ) -> Obj:
        return self.put(customer_object(customer_id, name=name, email=email))

    def add_payment_method(self, customer_id: str, *, default: bool = False) -> Obj:
        """A saved card on the customer; ``default`` also makes it the customer's
        ``invoice_settings.default_payment_method``."""
        with self._lock:
            customer = self._require(customer_id, "customer", "customer")
            method = self.put(payment_method_object(customer_id))
            if default:
                customer["invoice_settings"]["default_payment_method"] = method["id"]
            return copy.deepcopy(method)

    def put(self, obj: Obj) -> Obj:
        """Store any object (a subscription, charge, invoice…) so the API can retrieve it."""
        with self._lock:
            self._objects[obj["id"]] = copy.deepcopy(obj)
            return copy.deepcopy(obj)

    def get(self, obj_id: str) -> Obj:
        """The object as it stands now (a copy); KeyError when the fake has no such object."""
        with self._lock:
            return copy.deepcopy(self._objects[obj_id])

    def objects(self, kind: str) -> list[Obj]:
        """Every stored object whose ``object`` is ``kind`` ("checkout.session", "customer"…)."""
        with self._lock:
            return [copy.deepcopy(o) for o in self._objects.values() if o["object"] == kind]

    def session_params(self, session_id: str) -> Obj:
        """The parameters the Checkout Session was created with (decoded, values as strings)."""
        with self._lock:
            return copy.deepcopy(self._session_params[session_id])

    def requests_to(self, method: str, path: str) -> list[StripeRequest]:
        return [r for r in list(self.requests) if r.method == method and r.path == path]

    # --- programming behaviour ------------------------------------------------------------------

    def decline_next_payment_intents(
        self, n: int = 1, decline_code: str = "generic_decline"
    ) -> None:
        """The next ``n`` confirmed PaymentIntents fail as Stripe's card declines do: 402
        ``card_error`` (code ``card_declined``, or ``authentication_required`` for that decline
        code) with the PaymentIntent, left in ``requires_payment_method``, in
        ``error.payment_intent``."""
        with self._lock:
            self._declines.extend([decline_code] * n)

    def hang_next_requests(self, n: int = 1) -> None:
        """The next ``n`` API requests get no answer until the fake shuts down (client timeouts)."""
        with self._lock:
            self._hangs += n

    # --- what the customer does on the hosted pages ---------------------------------------------

    def complete_session(self, session_id: str, paid: bool = True) -> Obj:
        """The customer paid: status "complete", payment_status "paid" (or "unpaid" for an
        asynchronous method still processing when ``paid`` is False); creates the customer if the
        session had none, the PaymentIntent (and its charge, when paid) or the subscription with
        its first invoice. Returns the session."""
        with self._lock:
            session = self._require(session_id, "checkout.session", "id")
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            params = self._session_params[session_id]
            price = self._objects[params["line_items"][0]["price"]]
            if not session["customer"]:
                customer = self.put(customer_object(email=session["customer_email"]))
                session["customer"] = customer["id"]
            customer = self._objects[session["customer"]]
            session["customer_details"] = {
                "email": session["customer_email"] or customer["email"],
                "name": customer["name"],
                "phone": None,
                "address": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            if session["mode"] == "payment":
                self._complete_payment(session, params, paid)
            else:
                self._complete_subscription(session, params, price, paid)
            session["status"] = "complete"
            session["payment_status"] = "paid" if paid else "unpaid"
            session["url"] = None
            return copy.deepcopy(session)

    def _complete_payment(self, session: Obj, params: Obj, paid: bool) -> None:
        data = params.get("payment_intent_data") or {}
        saved = data.get("setup_future_usage")
        # A card used once is not attached to the customer; one saved for later is.
        method = self.put(payment_method_object(session["customer"] if saved else None))
        intent = self.put(
            payment_intent_object(
                amount=session["amount_total"],
                currency=session["currency"],
                customer=session["customer"],
                metadata=_metadata(data.get("metadata"), "payment_intent_data[metadata]"),
                payment_method=method["id"],
                status="succeeded" if paid else "processing",
                setup_future_usage=saved,
            )
        )
        session["payment_intent"] = intent["id"]
        if paid:
            self._charge(intent["id"])

    def _complete_subscription(self, session: Obj, params: Obj, price: Obj, paid: bool) -> None:
        data = params.get("subscription_data") or {}
        metadata = _metadata(data.get("metadata"), "subscription_data[metadata]")
        method = self.put(payment_method_object(session["customer"]))
        start = now()
        subscription = subscription_object(
            customer=session["customer"],
            price=price["id"],
            unit_amount=price["unit_amount"],
            currency=price["currency"],
            metadata=metadata,
            status="active" if paid else "incomplete",
            current_period_start=start,
            current_period_end=start + MONTH,
            default_payment_method=method["id"],
        )
        intent = self.put(
            payment_intent_object(
                amount=session["amount_total"],
                currency=session["currency"],
                customer=session["customer"],
                payment_method=method["id"],
                status="succeeded" if paid else "processing",
            )
        )
        invoice = invoice_object(
            subscription=subscription["id"],
            price=price["id"],
            customer=session["customer"],
            metadata=metadata,
            period_start=start,
            period_end=start + MONTH,
            amount_paid=session["amount_total"] if paid else 0,
            amount_due=session["amount_total"],
            payment_intent=intent["id"],
            currency=price["currency"],
            billing_reason="subscription_create",
            status="paid" if paid else "open",
            product=price["product"],
        )
        subscription["latest_invoice"] = invoice["id"]
        self.put(subscription)
        self.put(invoice)
        session["subscription"] = subscription["id"]
        session["invoice"] = invoice["id"]
        if paid:
            self._charge(intent["id"])

    def succeed_async(self, session_id: str) -> Obj:
        """The delayed payment of a complete, unpaid session went through."""
        with self._lock:
            session = self._require(session_id, "checkout.session", "id")
            if session["status"] != "complete" or session["payment_status"] != "unpaid":
                raise ValueError(f"{session_id} is not a complete, unpaid session")
            session["payment_status"] = "paid"
            if session["mode"] == "payment":
                self._charge(session["payment_intent"])
            else:
                invoice = self._objects[session["invoice"]]
                paid_at = now()
                invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
                invoice["status_transitions"]["paid_at"] = paid_at
                payment = invoice["payments"]["data"][0]
                payment.update(status="paid", amount_paid=invoice["amount_due"])
                payment["status_transitions"]["paid_at"] = paid_at
                self._objects[session["subscription"]]["status"] = "active"
                self._charge(payment["payment"]["payment_intent"])
            return copy.deepcopy(session)

    def fail_async(self, session_id: str) -> Obj:
        """The delayed payment of a complete, unpaid session failed (it stays unpaid)."""
        with self._lock:
            session = self._require(session_id, "checkout.session", "id")
            if session["status"] != "complete" or session["payment_status"] != "unpaid":
                raise ValueError(f"{session_id} is not a complete, unpaid session")
            if session["payment_intent"]:
                self._objects[session["payment_intent"]]["status"] = "requires_payment_method"
            return copy.deepcopy(session)

    def _charge(self, intent_id: str) -> Obj:
        intent = self._objects[intent_id]
        charge = self.put(
            charge_object(
                amount=intent["amount"],
                currency=intent["currency"],
                customer=intent["customer"],
                payment_intent=intent_id,
                payment_method=intent["payment_method"],
            )
        )
        intent.update(status="succeeded", amount_received=intent["amount"])
        intent["latest_charge"] = charge["id"]
        return charge

    def _require(self, obj_id: str, kind: str, param: str) -> Obj:
        obj = self._objects.get(obj_id)
        if obj is None or obj["object"] != kind:
            raise _missing(kind, obj_id, param)
        return obj

    # --- the API --------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, params: Obj, headers: dict[str, str]
    ) -> tuple[int, Obj, bool]:
        """One API request as the HTTP handler hands it over: (status, JSON body, replayed)."""
        key = headers.get("idempotency-key") if method == "POST" else None
        with self._lock:
            try:
                self._authorize(headers.get("authorization", ""))
                if key is not None and key in self._idempotent:
                    first, status, body = self._idempotent[key]
                    if first != (method, path, params):
                        raise _Refusal(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            type_="idempotency_error",
                        )
                    return status, copy.deepcopy(body), True
                status, body = 200, self._route(method, path, params)
            except _Refusal as refusal:
                status, body = refusal.status, refusal.body
                if not refusal.remembered:
                    return status, copy.deepcopy(body), False
            except Exception as exc:  # a malformed request the fake did not foresee
                error = {"type": "api_error", "message": f"fake Stripe failed: {exc!r}"}
                return 500, {"error": error}, False
            if key is not None:
                self._idempotent[key] = ((method, path, copy.deepcopy(params)), status, body)
            return status, copy.deepcopy(body), False

    def _authorize(self, authorization: str) -> None:
        if not authorization.startswith("Bearer "):
            raise _Refusal(401, "You did not provide an API key.")
        key = authorization.removeprefix("Bearer ")
        if not key.startswith("sk_") or (self.api_key is not None and key != self.api_key):
            raise _Refusal(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")

    _KINDS: ClassVar[dict[str, str]] = {
        "checkout/sessions": "checkout.session",
        "customers": "customer",
        "payment_intents": "payment_intent",
        "subscriptions": "subscription",
        "charges": "charge",
        "invoices": "invoice",
        "prices": "price",
        "billing_portal/sessions": "billing_portal.session",
    }

    def _route(self, method: str, path: str, params: Obj) -> Obj:
        rest = path.removeprefix("/v1/")
        collection = next((c for c in self._KINDS if rest == c or rest.startswith(f"{c}/")), "")
        tail = [part for part in rest[len(collection) :].split("/") if part]
        creators = {
            "customers": self._create_customer,
            "checkout/sessions": self._create_checkout_session,
            "billing_portal/sessions": self._create_portal_session,
            "payment_intents": self._create_payment_intent,
        }
        if method == "POST" and not tail and collection in creators:
            return creators[collection](params)
        # Stripe has no retrieve for portal sessions.
        if method == "GET" and len(tail) == 1 and collection and "portal" not in collection:
            return copy.deepcopy(self._require(tail[0], self._KINDS[collection], "id"))
        if method == "GET" and collection == "customers" and tail[1:] == ["payment_methods"]:
            return self._customer_payment_methods(tail[0], params)
        raise _Refusal(404, f"Unrecognized request URL ({method}: {path}).")

    def _create_customer(self, params: Obj) -> Obj:
        customer = customer_object(
            name=params.get("name"),
            email=params.get("email"),
            metadata=_metadata(params.get("metadata"), "metadata"),
        )
        customer["description"] = params.get("description")
        return self.put(customer)

    def _customer_payment_methods(self, customer_id: str, params: Obj) -> Obj:
        self._require(customer_id, "customer", "customer")
        methods = [
            o
            for o in self._objects.values()
            if o["object"] == "payment_method" and o["customer"] == customer_id
        ]
        methods.reverse()  # newest first, as Stripe lists
        limit = int(params.get("limit", 10))
        return listing(
            copy.deepcopy(methods[:limit]), f"/v1/customers/{customer_id}/payment_methods"
        )

    def _create_checkout_session(self, params: Obj) -> Obj:
        mode = params.get("mode")
        if mode not in ("payment", "subscription"):
            raise _Refusal(
                400, "Invalid mode: must be one of payment or subscription", param="mode"
            )
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise _Refusal(400, "Missing required param: line_items.", code="parameter_missing")
        price_id = items[0].get("price", "")
        price = self._objects.get(price_id)
        if price is None or price["object"] != "price":
            raise _missing("price", price_id, "line_items[0][price]")
        if "quantity" not in items[0]:
            raise _Refusal(
                400,
                "Quantity is required. Add `quantity` to `line_items[0]`",
                code="parameter_missing",
                param="line_items[0][quantity]",
            )
        recurring = price["recurring"] is not None
        if recurring != (mode == "subscription"):
            raise _Refusal(
                400,
                f"You specified `{mode}` mode but passed "
                + ("a recurring price." if recurring else "no recurring price."),
                param="line_items[0][price]",
            )
        customer = params.get("customer")
        if customer is not None:
            self._require(customer, "customer", "customer")
            if "customer_email" in params or "customer_creation" in params:
                raise _Refusal(
                    400,
                    "You may only specify one of these parameters: customer, "
                    "customer_email, customer_creation.",
                    param="customer",
                )
        wrong = {"payment": "subscription_data", "subscription": "payment_intent_data"}[mode]
        if wrong in params or (mode == "subscription" and "customer_creation" in params):
            raise _Refusal(400, f"You can not pass `{wrong}` in `{mode}` mode.", param=wrong)
        for part in ("payment_intent_data", "subscription_data"):
            _metadata((params.get(part) or {}).get("metadata"), f"{part}[metadata]")
        if len(params.get("client_reference_id", "")) > 200:
            raise _Refusal(400, "client_reference_id is too long", param="client_reference_id")
        session_id, created = new_id("cs"), now()
        amount = price["unit_amount"] * int(items[0]["quantity"])
        session: Obj = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": created,
            "currency": price["currency"],
            "customer": customer,
            "customer_creation": params.get("customer_creation", "if_required")
            if mode == "payment" and customer is None
            else None,
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": created + 86_400,
            "invoice": None,
            "livemode": False,
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "ui_mode": "hosted",
            "url": f"{self.base_url}/pay/{session_id}",
        }
        self._session_params[session_id] = copy.deepcopy(params)
        return self.put(session)

    def _create_portal_session(self, params: Obj) -> Obj:
        customer = params.get("customer", "")
        self._require(customer, "customer", "customer")
        portal_id = new_id("bps")
        return self.put(
            {
                "id": portal_id,
                "object": "billing_portal.session",
                "configuration": "bpc_default",
                "created": now(),
                "customer": customer,
                "flow": None,
                "livemode": False,
                "locale": None,
                "on_behalf_of": None,
                "return_url": params.get("return_url"),
                "url": f"{self.base_url}/portal/{portal_id}",
            }
        )

    def _create_payment_intent(self, params: Obj) -> Obj:
        amount = params.get("amount", "")
        if not amount.isdigit() or int(amount) < 50:
            raise _Refusal(
                400, "Amount must be at least 50 cents", code="amount_too_small", param="amount"
            )
        if not params.get("currency"):
            raise _Refusal(
                400, "Missing required param: currency.", code="parameter_missing", param="currency"
            )
        customer = params.get("customer")
        if customer is not None:
            self._require(customer, "customer", "customer")
        method_id = params.get("payment_method")
        if method_id is not None:
            method = self._require(method_id, "payment_method", "payment_method")
            if customer is not None and method["customer"] != customer:
                raise _Refusal(
                    400,
                    f"The provided PaymentMethod {method_id} does not belong to "
                    f"the Customer {customer}.",
                    param="payment_method",
                )
        confirm = _flag(params.get("confirm"))
        if "off_session" in params and not confirm:
            raise _Refusal(
                400, "off_session can only be used when confirm=true.", param="off_session"
            )
        if confirm and method_id is None:
            raise _Refusal(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                param="payment_method",
            )
        intent = self.put(
            payment_intent_object(
                amount=int(amount),
                currency=params["currency"],
                customer=customer,
                metadata=_metadata(params.get("metadata"), "metadata"),
                payment_method=method_id,
                status="requires_confirmation" if method_id else "requires_payment_method",
            )
        )
        if not confirm:
            return intent
        if self._declines:
            raise self._decline(intent["id"], self._declines.popleft())
        self._charge(intent["id"])
        return copy.deepcopy(self._objects[intent["id"]])

    def _decline(self, intent_id: str, decline_code: str) -> _Refusal:
        intent = self._objects[intent_id]
        code = (
            "authentication_required"
            if decline_code == "authentication_required"
            else ("card_declined")
        )
        message = (
            "Your card was declined. This transaction requires authentication."
            if code == "authentication_required"
            else "Your card was declined."
        )
        charge = self.put(
            charge_object(
                amount=intent["amount"],
                currency=intent["currency"],
                customer=intent["customer"],
                payment_intent=intent_id,
                payment_method=intent["payment_method"],
                status="failed",
            )
        )
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "charge": charge["id"],
        }
        intent.update(
            status="requires_payment_method",
            latest_charge=charge["id"],
            last_payment_error={**error, "payment_method": {"id": intent["payment_method"]}},
        )
        intent["payment_method"] = None
        extra = {
            "decline_code": decline_code,
            "charge": charge["id"],
            "payment_intent": copy.deepcopy(intent),
            "payment_method": copy.deepcopy(
                self._objects.get(intent["last_payment_error"]["payment_method"]["id"])
            ),
        }
        return _Refusal(402, message, type_="card_error", code=code, extra=extra, remembered=True)

    # --- the hosted pages -----------------------------------------------------------------------

    def page(self, method: str, path: str) -> tuple[int, str, str | None]:
        """A hosted page: (status, HTML, redirect location)."""
        kind, _, obj_id = path.strip("/").partition("/")
        with self._lock:
            obj = self._objects.get(obj_id)
            if kind == "portal" and obj and obj["object"] == "billing_portal.session":
                back = html.escape(obj["return_url"] or "")
                return 200, _html("Loopback billing portal", f'<a href="{back}">Return</a>'), None
            if kind != "pay" or not obj or obj["object"] != "checkout.session":
                return 404, _html("Not found", "<p>No such page.</p>"), None
            if method == "POST":
                if obj["status"] == "open":
                    self.complete_session(obj_id)
                success = obj["success_url"]
                if success:
                    return 303, "", success.replace("{CHECKOUT_SESSION_ID}", obj_id)
                return 200, _html("Loopback checkout", "<p>Payment complete.</p>"), None
            if obj["status"] != "open":
                return 200, _html("Loopback checkout", "<p>This session is complete.</p>"), None
            amount = f"{obj['amount_total'] / 100:.2f} {obj['currency'].upper()}"
            cancel = html.escape(obj["cancel_url"] or "")
            body = (
                f"<p>Pay <strong>{amount}</strong></p>"
                f'<form method="post" action="/pay/{html.escape(obj_id)}">'
                '<button type="submit">Pay</button></form>'
                f'<p><a href="{cancel}">Cancel</a></p>'
            )
            return 200, _html("Loopback checkout", body), None


def _html(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        if not url.path.startswith("/v1/"):
            status, page, location = fake.page(method, url.path)
            self._send(status, page.encode(), "text/html; charset=utf-8", {"Location": location})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        params = decode_form(body if method == "POST" else url.query)
        key = headers.get("idempotency-key") if method == "POST" else None
        with fake._lock:
            hang = fake._hangs > 0
            fake._hangs -= hang
        if hang:
            # Recorded with status 0 (no answer), so a test can see the client's retry.
            fake.requests.append(StripeRequest(method, url.path, params, key, headers, 0))
            fake.released.wait()
            return
        status, answer, replayed = fake.answer(method, url.path, params, headers)
        fake.requests.append(StripeRequest(method, url.path, params, key, headers, status))
        extra = {
            "Request-Id": new_id("req"),
            "Stripe-Version": headers.get("stripe-version", API_VERSION),
            "Idempotency-Key": key,
            "Idempotent-Replayed": "true" if replayed else None,
        }
        self._send(status, json.dumps(answer).encode(), "application/json", extra)

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str | None]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in extra.items():
            if value is not None:
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeStripe) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextlib.contextmanager
def running_fake_stripe(api_key: str | None = None) -> Iterator[FakeStripe]:
    """A :class:`FakeStripe` served on 127.0.0.1 (a free port) for the block's duration."""
    fake = FakeStripe(api_key)
    server = _Server(fake)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits for the loop's next look at its flag.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-stripe", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        fake.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
