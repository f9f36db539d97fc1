"""``StripeApi``, the app's only door to Stripe, against the loopback Stripe: what it sends (params,
metadata, idempotency keys, URLs), the plain dicts it returns, and the failures it turns into
``StripeFailure`` with a readable message and no key in it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.stripe_fakes import FakeStripe, running_fake_stripe
from workbench.billing.stripe_api import StripeApi, StripeFailure
from workbench.config import Settings

KEY = "sk_test_stripe_api_0123456789abcdef"
METADATA = {"workspace_id": "7", "user_id": "3", "offer": "pack-10k"}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe(api_key=KEY) as running:
        running.add_price("price_pack", unit_amount=1500)
        running.add_price("price_plan", unit_amount=2000, recurring_interval="month")
        yield running


@pytest.fixture
def api(fake: FakeStripe) -> StripeApi:
    return StripeApi(KEY, fake.base_url, timeout_s=5, max_network_retries=0)


def _checkout(api: StripeApi, key: str = "buy-1", **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "mode": "payment",
        "price": "price_pack",
        "customer": None,
        "client_reference_id": "7",
        "metadata": METADATA,
        "success_url": "http://app.test/credits?paid={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/credits",
        "idempotency_key": key,
    }
    args.update(overrides)
    return api.create_checkout_session(**args)


def test_no_secret_key_means_no_stripe() -> None:
    assert StripeApi.from_settings(Settings(_env_file=None, stripe_secret_key=None)) is None  # type: ignore[call-arg]


def test_from_settings_uses_the_key_and_the_api_base(fake: FakeStripe) -> None:
    config = Settings(  # type: ignore[call-arg]
        _env_file=None, stripe_secret_key=SecretStr(KEY), stripe_api_base=fake.base_url
    )
    api = StripeApi.from_settings(config)
    assert api is not None and KEY not in repr(api)

    customer = api.create_customer(workspace_id=7, name="Workspace seven", idempotency_key="ws-7")

    assert type(customer) is dict
    [request] = fake.requests_to("POST", "/v1/customers")
    assert request.params == {"name": "Workspace seven", "metadata": {"workspace_id": "7"}}
    assert request.idempotency_key == "ws-7"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert fake.get(customer["id"])["metadata"] == {"workspace_id": "7"}


def test_a_pack_checkout_sends_the_price_metadata_key_and_urls(
    fake: FakeStripe, api: StripeApi
) -> None:
    customer = fake.add_customer()
    session = _checkout(api, customer=customer["id"], save_payment_method=True)

    [request] = fake.requests_to("POST", "/v1/checkout/sessions")
    assert request.idempotency_key == "buy-1"
    assert request.params == {
        "mode": "payment",
        "line_items": [{"price": "price_pack", "quantity": "1"}],
        "client_reference_id": "7",
        "metadata": METADATA,
        "success_url": "http://app.test/credits?paid={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/credits",
        "customer": customer["id"],
        "payment_intent_data": {"metadata": METADATA, "setup_future_usage": "off_session"},
    }
    assert session["url"] == f"{fake.base_url}/pay/{session['id']}"
    assert (session["amount_total"], session["metadata"]) == (1500, METADATA)

    fake.complete_session(session["id"])
    found = api.retrieve_checkout_session(session["id"])
    assert (found["status"], found["payment_status"]) == ("complete", "paid")
    assert fake.get(found["payment_intent"])["metadata"] == METADATA


def test_a_pack_checkout_without_a_customer_asks_stripe_to_make_one(
    fake: FakeStripe, api: StripeApi
) -> None:
    session = _checkout(api)

    params = fake.session_params(session["id"])
    assert params["customer_creation"] == "always"
    assert params["payment_intent_data"] == {"metadata": METADATA}  # no card kept
    assert fake.complete_session(session["id"])["customer"].startswith("cus_")


def test_a_plan_checkout_puts_the_metadata_on_the_subscription(
    fake: FakeStripe, api: StripeApi
) -> None:
    customer = fake.add_customer()
    session = _checkout(api, mode="subscription", price="price_plan", customer=customer["id"])

    params = fake.session_params(session["id"])
    assert params["subscription_data"] == {"metadata": METADATA}
    assert "payment_intent_data" not in params and "customer_creation" not in params
    done = fake.complete_session(session["id"])
    subscription = api.retrieve_subscription(done["subscription"])
    assert subscription["metadata"] == METADATA
    assert subscription["items"]["data"][0]["price"]["id"] == "price_plan"


def test_one_click_makes_one_session_and_a_reused_key_is_refused(
    fake: FakeStripe, api: StripeApi
) -> None:
    first = _checkout(api, key="click-9")
    assert _checkout(api, key="click-9")["id"] == first["id"]

    with pytest.raises(StripeFailure) as refused:
        _checkout(api, key="click-9", price="price_other")

    assert refused.value.code == "idempotency"
    assert [s["id"] for s in fake.objects("checkout.session")] == [first["id"]]


def test_a_portal_session_returns_to_the_app(fake: FakeStripe, api: StripeApi) -> None:
    customer = fake.add_customer()
    portal = api.create_portal_session(customer=customer["id"], return_url="http://app.test/b")

    assert portal["url"] == f"{fake.base_url}/portal/{portal['id']}"
    [request] = fake.requests_to("POST", "/v1/billing_portal/sessions")
    assert request.params == {"customer": customer["id"], "return_url": "http://app.test/b"}

    with pytest.raises(StripeFailure) as refused:
        api.create_portal_session(customer="cus_gone", return_url="http://app.test/b")
    assert refused.value.code == "resource_missing"
    assert refused.value.message == "Stripe refused the request: No such customer: 'cus_gone'"
    assert len(fake.objects("billing_portal.session")) == 1


def _saved_card_customer(fake: FakeStripe, api: StripeApi) -> tuple[str, str]:
    """A customer whose card Checkout saved for top-ups: (customer, payment method)."""
    customer = fake.add_customer()
    session = _checkout(api, key="first-buy", customer=customer["id"], save_payment_method=True)
    intent = fake.get(fake.complete_session(session["id"])["payment_intent"])
    return customer["id"], intent["payment_method"]


def _top_up(api: StripeApi, customer: str, key: str = "top-up-1") -> dict[str, Any]:
    return api.create_off_session_payment(
        customer=customer, amount_cents=1500, currency="usd", metadata=METADATA, idempotency_key=key
    )


def test_an_off_session_top_up_charges_the_saved_card(fake: FakeStripe, api: StripeApi) -> None:
    customer, card = _saved_card_customer(fake, api)

    paid = _top_up(api, customer)

    assert (paid["status"], paid["amount_received"], paid["metadata"]) == (
        "succeeded",
        1500,
        METADATA,
    )
    [request] = fake.requests_to("POST", "/v1/payment_intents")
    assert request.idempotency_key == "top-up-1"
    assert request.params == {
        "amount": "1500",
        "currency": "usd",
        "customer": customer,
        "payment_method": card,
        "off_session": "true",
        "confirm": "true",
        "metadata": METADATA,
    }


def test_the_customers_default_card_comes_first(fake: FakeStripe, api: StripeApi) -> None:
    customer = fake.add_customer()
    default = fake.add_payment_method(customer["id"], default=True)
    fake.add_payment_method(customer["id"])  # newer, not the default

    _top_up(api, customer["id"])

    [request] = fake.requests_to("POST", "/v1/payment_intents")
    assert request.params["payment_method"] == default["id"]


def test_no_saved_card_is_refused_before_stripe_is_asked_to_pay(
    fake: FakeStripe, api: StripeApi
) -> None:
    customer = fake.add_customer()
    with pytest.raises(StripeFailure) as refused:
        _top_up(api, customer["id"])
    assert refused.value.code == "no_payment_method"
    assert fake.requests_to("POST", "/v1/payment_intents") == []


@pytest.mark.parametrize(
    ("decline_code", "code", "message"),
    [
        ("generic_decline", "card_declined", "Stripe refused the payment: card declined"),
        ("insufficient_funds", "card_declined", "Stripe refused the payment: insufficient funds"),
        ("authentication_required", "authentication_required", "the cardholder to approve"),
    ],
)
def test_a_declined_top_up_says_why(
    fake: FakeStripe, api: StripeApi, decline_code: str, code: str, message: str
) -> None:
    customer, _ = _saved_card_customer(fake, api)
    fake.decline_next_payment_intents(1, decline_code=decline_code)

    with pytest.raises(StripeFailure) as declined:
        _top_up(api, customer)

    assert declined.value.code == code
    assert message in declined.value.message
    intent = fake.get(str(declined.value.payment_intent))
    assert intent["status"] == "requires_payment_method"
    assert [c["status"] for c in fake.objects("charge")] == ["succeeded", "failed"]


def test_retrieved_objects_are_plain_json_ready_dicts(fake: FakeStripe, api: StripeApi) -> None:
    customer, _ = _saved_card_customer(fake, api)
    charge_id = fake.objects("charge")[0]["id"]

    charge, price = api.retrieve_charge(charge_id), api.retrieve_price("price_plan")

    assert (charge["customer"], charge["amount"]) == (customer, 1500)
    assert price["recurring"]["interval"] == "month"
    assert price["unit_amount_decimal"] == "2000"  # a Decimal in the SDK's object
    with pytest.raises(StripeFailure) as missing:
        api.retrieve_subscription("sub_gone")
    assert missing.value.code == "resource_missing"
    seen = len(fake.requests)
    with pytest.raises(StripeFailure):
        api.retrieve_charge("")
    assert len(fake.requests) == seen


def test_unreachable_stripe_is_a_clear_failure() -> None:
    with running_fake_stripe() as gone:
        address = gone.base_url
    api = StripeApi(KEY, address, timeout_s=5, max_network_retries=0)

    with pytest.raises(StripeFailure) as failed:
        api.create_customer(workspace_id=7, name="Seven", idempotency_key="ws-7")

    assert failed.value.code == "unreachable"
    assert "Stripe could not be reached" in failed.value.message


def test_a_timeout_is_retried_once_with_the_same_idempotency_key(fake: FakeStripe) -> None:
    api = StripeApi(KEY, fake.base_url, timeout_s=0.3)  # the default: one retry
    fake.hang_next_requests(2)

    with pytest.raises(StripeFailure) as failed:
        api.create_customer(workspace_id=7, name="Seven", idempotency_key="ws-7")

    assert failed.value.code == "unreachable"
    sent = fake.requests_to("POST", "/v1/customers")
    assert [(r.idempotency_key, r.status) for r in sent] == [("ws-7", 0), ("ws-7", 0)]
    assert fake.objects("customer") == []


def test_no_key_in_any_message_or_log_line(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk_test_wrong_key_fedcba9876543210"
    caplog.set_level(logging.DEBUG)
    failures = []
    for api, price in [
        (StripeApi(wrong, fake.base_url), "price_pack"),
        (StripeApi(KEY, fake.base_url), KEY),
    ]:
        # A catalogue with the key pasted as a Price ID: Stripe's answer would echo it.
        with pytest.raises(StripeFailure) as failed:
            _checkout(api, price=price)
        failures.append(failed.value)

    assert [f.code for f in failures] == ["authentication", "resource_missing"]
    assert failures[0].message == "Stripe refused the secret key: check STRIPE_SECRET_KEY"
    assert failures[1].message.startswith("Stripe refused the request: No such price")
    shown = " ".join(f"{f} {f!r} {f.__cause__} {f.__context__}" for f in failures)
    assert "sk_test_" not in shown
    assert wrong not in caplog.text and KEY not in caplog.text
    assert "line_items[0][price]=[redacted]" in caplog.text  # the SDK's own debug line
    assert "Stripe request failed: authentication" in caplog.text
    assert fake.objects("checkout.session") == []
