"""Stripe webhook tests over real HTTP: the route served by uvicorn, payloads signed as Stripe signs
them, purchases made through the app's own checkout code against the loopback Stripe.

- :func:`webhook_server_fixture` (module-scoped): ``standalone_app`` (the route
  ``workbench webhook serve`` and the app's server both mount) on uvicorn in a thread, acting
  through whichever test's ``Billing`` is current, so one server serves a whole module.
- :func:`world_fixture` (per test, on SQLite and on PostgreSQL through ``db_url``): a migrated
  database with the shipped catalogue, workspace ``acme``, ``Billing`` built by
  ``workbench.billing.service.open_billing`` from settings read from the environment
  (``STRIPE_WEBHOOK_SECRET`` with two secrets, as during a rotation; ``STRIPE_SECRET_KEY`` and
  ``WORKBENCH_STRIPE_API_BASE`` aimed at the loopback Stripe), on the test's movable clock.
  Afterwards ``verify()`` must be clean.
- :func:`serve_command` runs ``workbench webhook serve`` itself, in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlalchemy.engine import Engine

from ledger.accounts import Balance
from ledger.schema import entries, grants
from ledger.service import Ledger
from tests.browser_harness import free_port
from tests.conftest import FakeClock, Seed, seed
from tests.stripe_fakes import FakeStripe, running_fake_stripe, signed
from tests.stripe_objects import Obj
from workbench.billing.service import Billing, open_billing
from workbench.config import Settings
from workbench.db.ledger_access import seed_catalogue
from workbench.db.migrate import migrate_all
from workbench.db.schema import payments, stripe_events, subscriptions
from workbench.web.stripe_webhook import WEBHOOK_PATH, standalone_app

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_workbench_tests_current"
# The secret being rotated out: deliveries signed with it are still accepted.
OLD_SECRET = "whsec_workbench_tests_previous"
WRONG_SECRET = "whsec_someone_elses_endpoint"
SECRETS_SETTING = f"{SECRET},{OLD_SECRET}"
API_KEY = "sk_test_workbench_webhook_tests"
# Unit amounts (cents) of the catalogue's Stripe prices in the loopback Stripe.
PRICES = {
    "price_workbench_starter": (1000, None),
    "price_workbench_team": (5000, None),
    "price_workbench_department": (20000, None),
    "price_workbench_team_monthly": (5000, "month"),
    "price_workbench_department_monthly": (20000, "month"),
}


# --- the whole database, to prove nothing was written -------------------------------------------


def table_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in the database (the ledger's, the app's, billing's, Alembic's),
    in primary-key order."""
    reflected = sa.MetaData()
    reflected.reflect(bind=engine)
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in reflected.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(sa.select(table).order_by(*order))
            dump[table.name] = [tuple(row) for row in rows]
    return dump


# --- delivering ---------------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=60) as client:
        return client.post(url, content=body, headers=headers)


def deliver(
    url: str, evt: Obj, *, secret: str = SECRET, timestamp: int | None = None
) -> httpx.Response:
    """``evt`` as Stripe delivers it: the JSON body, signed now (or at ``timestamp``)."""
    body, headers = signed(evt, secret, timestamp)
    return post(url, body, headers)


def deliver_concurrently(url: str, evts: list[Obj]) -> list[httpx.Response]:
    """Each of ``evts`` delivered at once, each on its own connection, all released together
    (list an event several times to deliver it several times)."""
    deliveries = [signed(evt, SECRET) for evt in evts]
    gate = threading.Barrier(len(deliveries))

    def one(delivery: tuple[bytes, dict[str, str]]) -> httpx.Response:
        with httpx.Client(trust_env=False, timeout=60) as client:
            gate.wait()
            return client.post(url, content=delivery[0], headers=delivery[1])

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        return list(pool.map(one, deliveries))


def deliver_many(url: str, evt: Obj, n: int = 10) -> list[httpx.Response]:
    """``n`` concurrent deliveries of ``evt``, then ``n`` in sequence (Stripe's retries)."""
    answers = deliver_concurrently(url, [evt] * n)
    answers += [deliver(url, evt) for _ in range(n)]
    return answers


def first_and_duplicates(answers: list[httpx.Response]) -> tuple[dict[str, Any], int]:
    """Every answer must be a 200: the one that acted (its body), and how many said duplicate."""
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    bodies = [a.json() for a in answers]
    acted = [b for b in bodies if not b.get("duplicate")]
    assert len(acted) == 1, bodies
    duplicates = [b for b in bodies if b.get("duplicate") is True]
    assert all(b["outcome"] == "already handled" for b in duplicates), duplicates
    return acted[0], len(duplicates)


# --- the server ---------------------------------------------------------------------------------


@dataclass
class WebhookServer:
    """The webhook route on uvicorn in this process; ``billing`` is the current test's."""

    port: int
    billing: Billing | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def current(self) -> Billing:
        if self.billing is None:
            raise RuntimeError("no test is using the webhook server now")
        return self.billing


@contextmanager
def running_webhook_server() -> Iterator[WebhookServer]:
    served = WebhookServer(free_port())
    server = uvicorn.Server(
        uvicorn.Config(
            standalone_app(served.current),
            host="127.0.0.1",
            port=served.port,
            log_config=None,
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, name="webhook-server", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the webhook server did not start")
            thread.join(0.02)
        yield served
    finally:
        server.should_exit = True
        thread.join(15)


def webhook_server_fixture() -> Callable[..., Iterator[WebhookServer]]:
    @pytest.fixture(scope="module")
    def webhook() -> Iterator[WebhookServer]:
        with running_webhook_server() as served:
            yield served

    return webhook


def fake_stripe_fixture() -> Callable[..., Iterator[FakeStripe]]:
    """A module-scoped loopback Stripe with the catalogue's prices."""

    @pytest.fixture(scope="module")
    def fake_stripe() -> Iterator[FakeStripe]:
        with running_fake_stripe(API_KEY) as fake:
            for price, (cents, interval) in PRICES.items():
                fake.add_price(price, unit_amount=cents, recurring_interval=interval)
            yield fake

    return fake_stripe


# --- one test's world ---------------------------------------------------------------------------


@dataclass
class World:
    ledger: Ledger
    billing: Billing
    seed: Seed
    fake: FakeStripe
    clock: FakeClock
    url: str
    spent: list[int] = field(default_factory=list)

    # --- buying, as the app's pages do ---------------------------------------------------------

    def buy(self, offer_id: str = "starter", *, paid: bool = True) -> Obj:
        """A member buys a pack through the app's checkout code; the loopback Stripe completes
        the session (unpaid: an asynchronous method still processing). Returns the session."""
        started = self.billing.start_checkout(
            workspace_id=self.seed.workspace_id,
            user_id=self.seed.member_id,
            kind="pack",
            offer_id=offer_id,
            return_url="http://127.0.0.1/credits",
            key=uuid.uuid4().hex,
        )
        return self.fake.complete_session(started.session_id, paid=paid)

    def subscribe(self, offer_id: str = "team-monthly") -> Obj:
        """The workspace's admin subscribes to a plan; returns the completed session (its
        ``subscription`` and first ``invoice`` are in the loopback Stripe)."""
        started = self.billing.start_checkout(
            workspace_id=self.seed.workspace_id,
            user_id=self.seed.admin_id,
            kind="plan",
            offer_id=offer_id,
            return_url="http://127.0.0.1/credits",
            key=uuid.uuid4().hex,
        )
        return self.fake.complete_session(started.session_id)

    def charge_of(self, session: Obj) -> Obj:
        intent = self.fake.get(self.fake.get(session["id"])["payment_intent"])
        return self.fake.get(intent["latest_charge"])

    def spend(self, micros: int) -> None:
        """A chat call of exactly ``micros`` by the member."""
        key = f"spend-{len(self.spent)}"
        hold = self.ledger.reserve(
            self.seed.account_id,
            user_id=self.seed.member_id,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=micros,
            key=key,
        ).hold
        self.ledger.capture(hold.id, micros, key=key)
        self.spent.append(micros)

    # --- delivering ------------------------------------------------------------------------------

    def deliver(
        self, evt: Obj, *, secret: str = SECRET, timestamp: int | None = None
    ) -> httpx.Response:
        return deliver(self.url, evt, secret=secret, timestamp=timestamp)

    def accepted(self, evt: Obj) -> str:
        """Deliver ``evt`` once; it must be answered 200 and acted on; returns its outcome."""
        answer = self.deliver(evt)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["received"] is True and body["id"] == evt["id"], body
        assert "duplicate" not in body, body
        return str(body["outcome"])

    # --- reading ---------------------------------------------------------------------------------

    def balance(self) -> Balance:
        return self.ledger.balance(self.seed.account_id)

    def grants_named(self, reference: str) -> list[Any]:
        return self._rows(sa.select(grants).where(grants.c.reference == reference))

    def grants_of_kind(self, kind: str) -> list[Any]:
        query = sa.select(grants).where(
            grants.c.account_id == self.seed.account_id, grants.c.kind == kind
        )
        return self._rows(query.order_by(grants.c.id))

    def journal(self) -> list[Any]:
        query = sa.select(entries).where(entries.c.account_id == self.seed.account_id)
        return self._rows(query.order_by(entries.c.id))

    def payment(self, reference: str) -> Any:
        [row] = self._rows(sa.select(payments).where(payments.c.reference == reference))
        return row

    def stored_events(self) -> list[Any]:
        return self._rows(sa.select(stripe_events).order_by(stripe_events.c.id))

    def subscription(self, sub_id: str) -> Any:
        [row] = self._rows(sa.select(subscriptions).where(subscriptions.c.id == sub_id))
        return row

    def _rows(self, query: sa.Select[Any]) -> list[Any]:
        with self.ledger.engine.connect() as conn:
            return list(conn.execute(query))


def settings_for(db_url: str, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's settings as the environment gives them to a deployment with Stripe set up."""
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", db_url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRETS_SETTING)
    monkeypatch.setenv("STRIPE_SECRET_KEY", API_KEY)
    monkeypatch.setenv("WORKBENCH_STRIPE_API_BASE", fake.base_url)
    monkeypatch.setenv("WORKBENCH_STRIPE_TIMEOUT_S", "10")
    return Settings()


@contextmanager
def open_world(
    db_url: str,
    clock: FakeClock,
    fake: FakeStripe,
    webhook: WebhookServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    config = settings_for(db_url, fake, monkeypatch)
    # Stripe's timestamps (periods, events) are the real time; the ledger's clock starts there
    # and the tests move it.
    clock.now = datetime.fromtimestamp(int(time.time()), UTC)
    book = Ledger.open(db_url, clock=clock, pool_size=8)
    try:
        migrate_all(book.engine)
        seed_catalogue(book, config)
        billing = open_billing(book, config)
        assert billing.webhook_secrets == [SECRET, OLD_SECRET]
        world = World(book, billing, seed(book), fake, clock, webhook.url)
        webhook.billing = billing
        try:
            yield world
        finally:
            webhook.billing = None
        assert book.verify() == []
    finally:
        book.close()


def world_fixture() -> Callable[..., Iterator[World]]:
    """Per test and per backend (``db_url``); needs the module's ``webhook`` and ``fake_stripe``
    fixtures (:func:`webhook_server_fixture`, :func:`fake_stripe_fixture`)."""

    @pytest.fixture
    def world(
        db_url: str,
        clock: FakeClock,
        fake_stripe: FakeStripe,
        webhook: WebhookServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[World]:
        with open_world(db_url, clock, fake_stripe, webhook, monkeypatch) as opened:
            yield opened

    return world


# --- ``workbench webhook serve`` in a subprocess ------------------------------------------------


@dataclass
class ServeCommand:
    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def command_env(db_url: str, **extra: str) -> dict[str, str]:
    """This machine's environment without workbench or Stripe settings of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WORKBENCH_", "STRIPE_"))
    }
    env.update({"WORKBENCH_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1", **extra})
    return env


@contextmanager
def serve_command(workdir: Path, env: dict[str, str]) -> Iterator[ServeCommand]:
    """``workbench webhook serve --port <free>``, until it accepts connections."""
    port = free_port()
    log = workdir / "webhook-serve.log"
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "webhook", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    served = ServeCommand(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while "Uvicorn running on" not in served.output():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"webhook serve did not start:\n{served.output()}")
            time.sleep(0.1)
        yield served
    finally:
        served.stop()
