"""The loopback Stripe is honest: the real ``stripe`` SDK talks to it as to Stripe, its answers and
errors are the ones the SDK turns into Stripe's exceptions, and its events and signatures are
accepted (or refused) by ``stripe.Webhook.construct_event`` as Stripe's own would be."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe

from tests.stripe_fakes import (
    FakeStripe,
    charge_object,
    charge_refunded,
    checkout_completed,
    decode_form,
    dispute_closed,
    invoice_paid,
    running_fake_stripe,
    sign,
    signed,
    subscription_event,
    subscription_object,
)

KEY = "sk_test_loopback"
SECRET = "whsec_loopback"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        running.add_price("price_pack", unit_amount=1500)
        running.add_price("price_plan", unit_amount=2000, recurring_interval="month")
        yield running


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": fake.base_url}, max_network_retries=0)


def _session_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{"price": "price_pack", "quantity": 1}],
        "client_reference_id": "ws-7",
        "metadata": {"workspace_id": "7", "offer": "pack"},
        "payment_intent_data": {"metadata": {"workspace_id": "7"}},
        "success_url": "http://app.test/credits?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/credits",
    }
    params.update(overrides)
    return params


def _create(client: stripe.StripeClient, key: str, **overrides: Any) -> Any:
    return client.v1.checkout.sessions.create(
        params=_session_params(**overrides),  # type: ignore[arg-type]
        options={"idempotency_key": key},
    )


def test_form_bodies_decode_to_nested_params() -> None:
    decoded = decode_form(
        "line_items[0][price]=p1&line_items[0][quantity]=1&line_items[1][price]=p2"
        "&metadata[a]=x&payment_intent_data[metadata][b]=y&mode=payment"
    )
    assert decoded == {
        "line_items": [{"price": "p1", "quantity": "1"}, {"price": "p2"}],
        "metadata": {"a": "x"},
        "payment_intent_data": {"metadata": {"b": "y"}},
        "mode": "payment",
    }


def test_a_checkout_session_is_created_recorded_and_retrieved(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = _create(client, "click-1")

    assert session.object == "checkout.session"
    assert session.id.startswith("cs_test_")
    assert session.url == f"{fake.base_url}/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.currency) == (1500, "usd")
    assert session.to_dict()["metadata"] == {"workspace_id": "7", "offer": "pack"}
    assert session.client_reference_id == "ws-7"
    [request] = fake.requests_to("POST", "/v1/checkout/sessions")
    assert request.idempotency_key == "click-1"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.params["line_items"] == [{"price": "price_pack", "quantity": "1"}]
    assert request.params["payment_intent_data"] == {"metadata": {"workspace_id": "7"}}

    fake.complete_session(session.id)
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.payment_status) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(str(again.payment_intent))
    assert (intent.status, intent.amount) == ("succeeded", 1500)
    assert intent.to_dict()["metadata"] == {"workspace_id": "7"}
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.payment_intent, charge.amount_refunded) == (intent.id, 0)


def test_the_same_idempotency_key_replays_and_refuses_other_parameters(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    first = _create(client, "click-2")
    second = _create(client, "click-2")

    assert second.id == first.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        _create(client, "click-2", client_reference_id="ws-8")
    assert [s["id"] for s in fake.objects("checkout.session")] == [first.id]
    assert _create(client, "click-3").id != first.id


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"line_items": [{"price": "price_gone", "quantity": 1}]}, "line_items[0][price]"),
        ({"line_items": [{"price": "price_pack"}]}, "line_items[0][quantity]"),
        ({"line_items": [{"price": "price_plan", "quantity": 1}]}, "line_items[0][price]"),
        ({"mode": "subscription", "payment_intent_data": None}, "line_items[0][price]"),
        ({"customer": "cus_nobody"}, "customer"),
    ],
    ids=["unknown price", "no quantity", "plan in payment mode", "pack as plan", "no customer"],
)
def test_a_refused_session_creates_nothing_and_leaves_its_key_free(
    fake: FakeStripe, client: stripe.StripeClient, overrides: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _create(client, "click-4", **overrides)

    assert refused.value.http_status == 400
    assert refused.value.param == param
    assert fake.objects("checkout.session") == []
    # As at Stripe, a request refused while validating is not remembered under its key.
    assert _create(client, "click-4").status == "open"


def test_an_unknown_object_is_a_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_nothing")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


@pytest.mark.parametrize("key", ["pk_test_publishable", "sk_test_other"])
def test_a_wrong_key_is_refused(key: str) -> None:
    with running_fake_stripe(api_key=KEY) as fake:
        fake.add_price("price_pack")
        wrong = stripe.StripeClient(key, base_addresses={"api": fake.base_url})
        with pytest.raises(stripe.AuthenticationError) as refused:
            _create(wrong, "click-5")
        assert refused.value.http_status == 401
        assert fake.objects("checkout.session") == []


def test_a_declined_off_session_payment_is_a_card_error_with_its_payment_intent(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    customer = fake.add_customer(name="Workspace 7")
    card = fake.add_payment_method(customer["id"], default=True)
    params: Any = {
        "amount": 1500,
        "currency": "usd",
        "customer": customer["id"],
        "payment_method": card["id"],
        "off_session": True,
        "confirm": True,
        "metadata": {"workspace_id": "7"},
    }
    fake.decline_next_payment_intents(1)

    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "top-up-1"})

    assert (declined.value.http_status, declined.value.code) == (402, "card_declined")
    error = declined.value.error
    assert error is not None and error.payment_intent is not None
    assert error.payment_intent.status == "requires_payment_method"
    # The decline is remembered under its key, as Stripe remembers executed requests.
    with pytest.raises(stripe.CardError) as replayed:
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "top-up-1"})
    assert replayed.value.error is not None and replayed.value.error.payment_intent is not None
    assert replayed.value.error.payment_intent.id == error.payment_intent.id
    paid = client.v1.payment_intents.create(params=params, options={"idempotency_key": "top-up-2"})
    assert (paid.status, paid.amount_received, paid.payment_method) == (
        "succeeded",
        1500,
        card["id"],
    )


def test_a_payment_method_of_another_customer_is_refused(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    mine, theirs = fake.add_customer(), fake.add_customer()
    card = fake.add_payment_method(theirs["id"])
    params: Any = {"amount": 900, "currency": "usd", "customer": mine["id"]}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params={**params, "payment_method": card["id"], "confirm": True, "off_session": True}
        )
    assert refused.value.param == "payment_method"
    assert fake.objects("payment_intent") == []


def test_a_portal_session_for_a_known_customer_only(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    customer = fake.add_customer()
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer["id"], "return_url": "http://app.test/credits"}
    )
    assert portal.object == "billing_portal.session"
    assert portal.url == f"{fake.base_url}/portal/{portal.id}"
    assert (portal.customer, portal.return_url) == (customer["id"], "http://app.test/credits")
    status, _, page = _visit(portal.url, "GET")
    assert status == 200 and "<title>Loopback billing portal</title>" in page

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing_portal.sessions.create(params={"customer": "cus_nobody"})
    assert len(fake.objects("billing_portal.session")) == 1


def _visit(url: str, method: str) -> tuple[int, str | None, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(method, parts.path)
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read().decode()
    finally:
        connection.close()


def test_the_hosted_checkout_page_pays_and_returns_to_the_success_url(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = _create(client, "click-6")

    status, _, page = _visit(session.url, "GET")
    assert status == 200
    assert "<title>Loopback checkout</title>" in page and ">Pay</button>" in page
    status, location, _ = _visit(session.url, "POST")

    assert status == 303
    assert location == f"http://app.test/credits?session={session.id}"
    assert fake.get(session.id)["payment_status"] == "paid"
    assert _visit(session.url, "POST")[:2] == (303, location)  # a second click pays nothing more
    assert len(fake.objects("charge")) == 1


def test_a_subscription_checkout_makes_a_subscription_and_its_first_invoice(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    customer = fake.add_customer()
    session = _create(
        client,
        "click-7",
        mode="subscription",
        customer=customer["id"],
        line_items=[{"price": "price_plan", "quantity": 1}],
        payment_intent_data=None,
        subscription_data={"metadata": {"workspace_id": "7", "plan": "team"}},
    )
    done = fake.complete_session(session.id, paid=False)
    assert (done["status"], done["payment_status"]) == ("complete", "unpaid")
    assert fake.get(done["subscription"])["status"] == "incomplete"

    fake.succeed_async(session.id)
    subscription = client.v1.subscriptions.retrieve(done["subscription"]).to_dict()
    invoice = client.v1.invoices.retrieve(done["invoice"]).to_dict()
    assert subscription["status"] == "active"
    assert subscription["metadata"] == {"workspace_id": "7", "plan": "team"}
    item = subscription["items"]["data"][0]
    assert item["price"]["id"] == "price_plan"
    assert item["current_period_end"] > item["current_period_start"]
    details = invoice["parent"]["subscription_details"]
    assert details == {"subscription": subscription["id"], "metadata": subscription["metadata"]}
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 2000)
    assert invoice["lines"]["data"][0]["pricing"]["price_details"]["price"] == "price_plan"
    assert invoice["lines"]["data"][0]["period"]["end"] == item["current_period_end"]
    assert not {"subscription", "paid", "charge", "payment_intent"} & invoice.keys()


def test_a_signed_event_is_accepted_and_matches_the_sdks_own_signature(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    session = fake.complete_session(_create(client, "click-8").id)
    body, headers = signed(checkout_completed(session), SECRET)

    verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)

    assert verified.type == "checkout.session.completed"
    assert verified.data.object.to_dict() == session
    expected = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, 1_800_000_000
    )
    assert sign(body, SECRET, 1_800_000_000) == expected


@pytest.mark.parametrize("fault", ["tampered body", "wrong secret", "stale timestamp"])
def test_a_bad_signature_is_refused(fault: str) -> None:
    body = json.dumps(checkout_completed({"id": "cs_test_x", "object": "checkout.session"}))
    payload = body.encode()
    header = sign(payload, SECRET)
    if fault == "tampered body":
        payload = payload.replace(b"cs_test_x", b"cs_test_y")
    elif fault == "wrong secret":
        header = sign(payload, "whsec_other")
    else:
        header = sign(payload, SECRET, int(time.time()) - 3600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, SECRET)


def test_the_event_builders_make_events_the_sdk_reads() -> None:
    start = 1_800_000_000
    paid = invoice_paid(
        subscription="sub_1",
        price="price_plan",
        customer="cus_1",
        metadata={"workspace_id": "7"},
        period_start=start,
        period_end=start + 30 * 86_400,
        amount_paid=2000,
        payment_intent="pi_1",
    )
    charge = charge_object(amount=1500, customer="cus_1", payment_intent="pi_2")
    sub = subscription_object(customer="cus_1", price="price_plan", status="canceled")
    events = [
        paid,
        charge_refunded(charge, amount_refunded=500),
        dispute_closed("lost", charge),
        subscription_event("deleted", sub, created=start),
    ]
    read = [
        stripe.Webhook.construct_event(json.dumps(e), sign(json.dumps(e).encode(), SECRET), SECRET)
        for e in events
    ]

    invoice = read[0].data.object.to_dict()
    assert invoice["parent"]["subscription_details"]["subscription"] == "sub_1"
    assert invoice["payments"]["data"][0]["payment"]["payment_intent"] == "pi_1"
    assert invoice["lines"]["data"][0]["period"] == {"start": start, "end": start + 30 * 86_400}
    refund = read[1].data.object
    assert (refund.amount_refunded, refund.refunded) == (500, False)
    assert charge_refunded(charge)["data"]["object"]["refunded"] is True  # in full by default
    dispute = read[2].data.object.to_dict()
    assert (dispute["charge"], dispute["payment_intent"], dispute["metadata"]) == (
        charge["id"],
        "pi_2",
        {},
    )
    assert (read[3].type, read[3].created) == ("customer.subscription.deleted", start)
    assert [e.api_version for e in read] == [paid["api_version"]] * 4
