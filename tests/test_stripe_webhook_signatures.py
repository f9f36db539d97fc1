"""Only a fresh request signed with one of the webhook's secrets is an event, over real HTTP against
``workbench webhook serve`` (started as a deployment starts it, the secrets in
``STRIPE_WEBHOOK_SECRET``): a stale or future timestamp, a tampered body, a wrong secret, a missing
or malformed header, a body that is not a JSON event, an oversized body are each answered with a
clear error, and every table of the database is byte-for-byte what it was. Either secret of a
rotation is accepted."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import Seed, seed
from tests.stripe_fakes import (
    FakeStripe,
    checkout_async_succeeded,
    checkout_completed,
    sign,
    signed,
)
from tests.stripe_objects import Obj
from tests.stripe_webhook_harness import (
    API_KEY,
    OLD_SECRET,
    SECRET,
    SECRETS_SETTING,
    WRONG_SECRET,
    ServeCommand,
    command_env,
    fake_stripe_fixture,
    post,
    serve_command,
    table_dump,
)
from workbench.billing import webhook
from workbench.billing.service import Billing, open_billing
from workbench.billing.webhook import TOLERANCE_S
from workbench.cli import main
from workbench.config import Settings
from workbench.db.ledger_access import open_ledger
from workbench.web.stripe_webhook import MAX_BODY_BYTES

fake_stripe = fake_stripe_fixture()

MISMATCH = webhook.MISMATCH
STALE = webhook.STALE
NOT_JSON = "body is not a JSON Stripe event"


@dataclass
class Deployment:
    """``workbench webhook serve`` on a database of its own, and the test's handle on it."""

    served: ServeCommand
    ledger: Ledger
    billing: Billing  # the app's checkout code, aimed at the loopback Stripe
    fake: FakeStripe
    seed: Seed

    def paid_session(self) -> Obj:
        started = self.billing.start_checkout(
            workspace_id=self.seed.workspace_id,
            user_id=self.seed.member_id,
            kind="pack",
            offer_id="starter",
            return_url="http://127.0.0.1/credits",
            key=uuid.uuid4().hex,
        )
        return self.fake.complete_session(started.session_id)

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        return table_dump(self.ledger.engine)


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, fake_stripe: FakeStripe
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("webhook-serve")
    db_url = f"sqlite:///{workdir / 'workbench.db'}"
    config = Settings(
        database_url=db_url,
        stripe_secret_key=SecretStr(API_KEY),
        stripe_api_base=fake_stripe.base_url,
    )
    book = open_ledger(config)
    try:
        seeded = seed(book)
        env = command_env(db_url, STRIPE_WEBHOOK_SECRET=SECRETS_SETTING)
        with serve_command(workdir, env) as served:
            yield Deployment(served, book, open_billing(book, config), fake_stripe, seeded)
        assert book.verify() == []
    finally:
        book.close()


def now() -> int:
    return int(time.time())


# Each: (what is sent, given a correctly signed delivery's body) -> (body, headers), and the
# error expected.
Forge = Callable[[bytes], tuple[bytes, dict[str, str]]]
REFUSED: dict[str, tuple[Forge, int, str]] = {
    "a stale timestamp": (
        lambda body: (body, {"Stripe-Signature": sign(body, SECRET, now() - TOLERANCE_S - 60)}),
        400,
        STALE,
    ),
    "a future timestamp": (
        lambda body: (body, {"Stripe-Signature": sign(body, SECRET, now() + TOLERANCE_S + 60)}),
        400,
        "signature timestamp is in the future",
    ),
    "a tampered body": (
        lambda body: (
            body.replace(b'"micros": "10000000000"', b'"micros": "99000000000"'),
            {"Stripe-Signature": sign(body, SECRET)},
        ),
        400,
        MISMATCH,
    ),
    "a wrong secret": (
        lambda body: (body, {"Stripe-Signature": sign(body, WRONG_SECRET)}),
        400,
        MISMATCH,
    ),
    "no signature header": (lambda body: (body, {}), 400, "missing Stripe-Signature header"),
    "an empty signature header": (
        lambda body: (body, {"Stripe-Signature": ""}),
        400,
        "missing Stripe-Signature header",
    ),
    "a malformed signature header": (
        lambda body: (body, {"Stripe-Signature": "sha256=" + "0" * 64}),
        400,
        MISMATCH,
    ),
    "a signature without its timestamp": (
        lambda body: (body, {"Stripe-Signature": sign(body, SECRET).split(",", 1)[1]}),
        400,
        MISMATCH,
    ),
    "a signed body that is not JSON": (
        lambda _body: (b"not json", {"Stripe-Signature": sign(b"not json", SECRET)}),
        400,
        NOT_JSON,
    ),
    "a signed empty body": (
        lambda _body: (b"", {"Stripe-Signature": sign(b"", SECRET)}),
        400,
        NOT_JSON,
    ),
    "a signed JSON list": (
        lambda _body: (b"[1, 2]", {"Stripe-Signature": sign(b"[1, 2]", SECRET)}),
        400,
        NOT_JSON,
    ),
    "a signed body that is not UTF-8": (
        lambda _body: (b"\xff\xfe{}", {"Stripe-Signature": sign(b"\xff\xfe{}", SECRET)}),
        400,
        NOT_JSON,
    ),
    "a signed JSON object that is no event": (
        lambda _body: (
            b'{"hello": "world"}',
            {"Stripe-Signature": sign(b'{"hello": "world"}', SECRET)},
        ),
        400,
        "not a Stripe event (id, type, created and data.object are needed)",
    ),
    "a body over the size limit": (
        lambda body: (
            body + b" " * MAX_BODY_BYTES,
            {"Stripe-Signature": sign(body + b" " * MAX_BODY_BYTES, SECRET)},
        ),
        413,
        f"body is larger than {MAX_BODY_BYTES} bytes",
    ),
}


@pytest.mark.parametrize("what", list(REFUSED))
def test_a_request_that_is_not_a_fresh_signed_event_is_refused_and_writes_nothing(
    what: str, deployment: Deployment
) -> None:
    forge, status, error = REFUSED[what]
    body, _ = signed(checkout_completed(deployment.paid_session()), SECRET)
    assert b'"micros": "10000000000"' in body  # what the tampering changes
    sent_body, headers = forge(body)
    before = deployment.dump()

    answer = post(deployment.served.url, sent_body, headers)

    assert (answer.status_code, answer.json()) == (status, {"error": error}), what
    assert answer.headers["content-type"] == "application/json"
    assert deployment.dump() == before, f"{what}: the database changed"


def test_either_secret_of_a_rotation_is_accepted(deployment: Deployment) -> None:
    for secret in (SECRET, OLD_SECRET):
        session = deployment.paid_session()
        before = deployment.ledger.balance(deployment.seed.account_id).available
        body, headers = signed(checkout_completed(session), secret)

        answer = post(deployment.served.url, body, headers)

        assert answer.status_code == 200, (secret, answer.text)
        assert answer.json()["outcome"] == "granted"
        after = deployment.ledger.balance(deployment.seed.account_id).available
        assert after - before == credits(10_000)


def test_a_header_with_several_signatures_is_accepted_when_one_matches(
    deployment: Deployment,
) -> None:
    # Stripe signs with each of the endpoint's secrets while its own secret is being rolled.
    evt = checkout_async_succeeded(deployment.paid_session())
    body = json.dumps(evt).encode()
    ts = now()
    right = sign(body, SECRET, ts).split("v1=")[1]
    wrong = sign(body, WRONG_SECRET, ts).split("v1=")[1]
    header = f"t={ts},v1={wrong},v1={right}"

    answer = post(deployment.served.url, body, {"Stripe-Signature": header})

    assert (answer.status_code, answer.json()["outcome"]) == (200, "granted")


def test_only_post_is_served(deployment: Deployment) -> None:
    with httpx.Client(trust_env=False, timeout=30) as client:
        answer = client.get(deployment.served.url)
    assert answer.status_code == 405


def test_the_log_names_refusals_but_never_a_signature_or_payload(deployment: Deployment) -> None:
    session = deployment.paid_session()
    body, headers = signed(checkout_completed(session), WRONG_SECRET)
    refusals = deployment.served.output().count("Stripe webhook refused")

    assert post(deployment.served.url, body, headers).status_code == 400

    # The line is written (unbuffered) before the answer is sent.
    log = deployment.served.output()
    assert log.count("Stripe webhook refused") == refusals + 1
    assert f"Stripe webhook refused: {MISMATCH}" in log
    assert headers["Stripe-Signature"].split("v1=")[1] not in log
    assert session["id"] not in log and "workspace_id" not in log


def test_serve_refuses_to_start_without_a_webhook_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("STRIPE_WEBHOOK_SECRET", "WORKBENCH_STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    db_file = tmp_path / "never.db"

    status = main(["--database-url", f"sqlite:///{db_file}", "webhook", "serve"])

    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "workbench: error: STRIPE_WEBHOOK_SECRET is not set (the endpoint's whsec_… signing secret)"
    ]
    assert not db_file.exists()
