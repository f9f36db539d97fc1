"""Two app processes on one PostgreSQL database behave as one app: two real servers
(``streamlit run workbench/app.py``, on two loopback ports) share one database and one provider.

Chat: sixteen people's turns at once, eight through each server, over the app's websocket as the
browser sends them (signed in, Enter in the chat box), against one workspace with credits for
five turns. Each server's people are their own user (``ana`` on the first, ``ben`` on the
second), so what each server charged is told apart. Both servers call one loopback
OpenAI-compatible server (``tests.fake_providers``) through litellm, which counts what it
received. No overdraft at any point of the journal; the refused turns say why; every provider
request had exactly one hold, captured once, with one usage row; what the two servers showed as
charged adds up to the journal's movement; ``workbench ledger verify`` finds the books balanced.

Stripe: one payment's webhook delivered to both servers at once is credited once.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from ledger.amounts import credits, parse_credits
from ledger.owners import User, Workspace
from ledger.schema import entries, holds, usage_records
from tests.browser_harness import AppServer, http_session_token, start_app, start_replica
from tests.conftest import drop_postgres_database, new_postgres_database
from tests.fake_providers import FakeProvider, slow_stream
from tests.gateway_harness import OPENAI_KEY
from tests.streamlit_socket import (
    StreamlitSocket,
    new_elements,
    page_script_hash,
    streamlit_socket,
)
from tests.stripe_events import checkout_completed
from tests.stripe_fakes import running_fake_stripe
from tests.stripe_webhook_harness import API_KEY, SECRET, deliver_concurrently, first_and_duplicates
from workbench.bootstrap import Services, open_services
from workbench.config import Settings
from workbench.web.stripe_webhook import WEBHOOK_PATH

pytestmark = pytest.mark.postgres

MODEL = "openai/gpt-4o-mini"  # 180 credits per million tokens in, 720 out (data/prices.toml)
PROMPT_TOKENS = 50
COMPLETION_TOKENS = 1000
# What the provider reports for every reply, and so what every answered turn costs: 50 tokens at
# 180 plus 1,000 at 720 micro-credits, a figure the reply's caption shows to the last digit.
TURN_COST = credits("0.729")
# Five turns' worth (3.645) and a little: a sixth turn can never be paid, whatever the timing.
BALANCE = credits("3.7")
TURNS_PER_SERVER = 8
STARTER = credits(10_000)  # the "starter" pack, data/credit_packs.toml
SERVER_ENV = {
    "OPENAI_API_KEY": OPENAI_KEY,
    "WORKBENCH_DEFAULT_CHAT_MODEL": MODEL,
    # Off, so that credits are the only reason to refuse a turn.
    "WORKBENCH_RATE_LIMIT_PER_MINUTE": "0",
    "WORKBENCH_RATE_LIMIT_CONCURRENT": "0",
    "WORKBENCH_PROVIDER_TIMEOUT_S": "30",
    "WORKBENCH_PROVIDER_MAX_RETRIES": "0",
    "STRIPE_WEBHOOK_SECRET": SECRET,
}
# Only a guard against a hang: how long a server may take to offer the model first.
SWITCH_SEEN_TIMEOUT_S = 60.0
CHAT = ""  # the chat page's URL path: it is the default page, at the root
CAPTION = re.compile(r"^([\d.,]+) credits? · ([\d,]+) → ([\d,]+) tokens")


@dataclass(frozen=True)
class Replicas:
    first: AppServer
    second: AppServer
    database_url: str
    fake: FakeProvider


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    database_url = new_postgres_database()
    with ExitStack() as stack:
        stack.callback(drop_postgres_database, database_url)
        fake = stack.enter_context(FakeProvider())
        # Every reply streams a little (so turns overlap) and reports the same usage.
        fake.default = slow_stream(
            0.03, prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS
        )
        env = {**SERVER_ENV, "WORKBENCH_OPENAI_API_BASE": fake.openai_base}
        workdir = tmp_path_factory.mktemp("replicas")
        first = start_app(workdir / "first", database_url=database_url, extra_env=env)
        stack.callback(first.stop)
        second = start_replica(first, workdir / "second")
        stack.callback(second.stop)
        yield Replicas(first, second, database_url, fake)


@pytest.fixture
def services(replicas: Replicas) -> Iterator[Services]:
    """The test's own handle on the servers' database."""
    svc = open_services(Settings(database_url=replicas.database_url))
    try:
        yield svc
    finally:
        svc.ledger.close()


@dataclass(frozen=True)
class Turn:
    server: str
    text: str
    charged: int | None  # the reply's caption, in micro-credits; None: refused
    refusal: str | None


def tight_workspace(svc: Services) -> tuple[Workspace, User, User]:
    """A workspace with credits for five turns and two members, one for each server; the demo
    chat model switched off."""
    ledger = svc.ledger
    workspace = ledger.create_workspace("tight", "Tight budget")
    people = []
    for name in ("ana", "ben"):
        person = ledger.create_user(name, name.title())
        ledger.add_member(workspace.id, person.id, "member")
        svc.logins.set_password(person.id, f"{name}-password-0001")
        people.append(person)
    ledger.grant(workspace.account_id, BALANCE, kind="paid", key="replicas-tight")
    # The chat page offers the first model on offer: with the demo model off, the loopback one.
    ledger.set_model_enabled("demo/chat", False, None, reason="replicas test: the loopback model")
    return workspace, people[0], people[1]


def open_chat(server: AppServer, username: str, stack: ExitStack) -> tuple[StreamlitSocket, str]:
    """A signed-in tab on the chat page, once it offers the loopback model first (the demo model
    was switched off in the database: each server sees that within its switch cache's window):
    its socket, and the chat box's widget id."""
    token = http_session_token(server, username, f"{username}-password-0001")
    socket = stack.enter_context(streamlit_socket(server.url, cookie=f"workbench_session={token}"))
    chat = page_script_hash(socket.run(), CHAT)
    deadline = time.monotonic() + SWITCH_SEEN_TIMEOUT_S
    while True:
        page = socket.run(chat)
        [box] = [e.chat_input for e in new_elements(page) if e.WhichOneof("type") == "chat_input"]
        if box.placeholder == "Message GPT-4o mini" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert box.placeholder == "Message GPT-4o mini", box.placeholder
    return socket, box.id


def what_happened(server: str, text: str, messages: list[Any]) -> Turn:
    """A turn as its tab showed it: the reply's caption (what was charged) or the refusal."""
    shown = new_elements(messages)
    errors = [e.alert.body for e in shown if e.WhichOneof("type") == "alert"]
    captions = [
        found
        for e in shown
        if e.WhichOneof("type") == "markdown" and (found := CAPTION.match(e.markdown.body))
    ]
    if captions:
        [caption] = captions  # one conversation, one reply
        assert (caption.group(2), caption.group(3)) == ("50", "1,000")
        assert errors == [], errors
        return Turn(server, text, parse_credits(caption.group(1)), None)
    assert len(errors) == 1, f"{text!r} showed neither a reply's caption nor one refusal: {errors}"
    return Turn(server, text, None, errors[0])


def chat_at_once(replicas: Replicas, ana: User, ben: User) -> list[Turn]:
    """Eight tabs on each server, each sending one message, all at the same moment."""
    servers = {"first": (replicas.first, ana), "second": (replicas.second, ben)}
    with ExitStack() as stack:
        tabs = [
            (name, *open_chat(server, person.username, stack), f"turn {n} through {name}")
            for name, (server, person) in servers.items()
            for n in range(TURNS_PER_SERVER)
        ]
        gate = threading.Barrier(len(tabs))

        def send(tab: tuple[str, StreamlitSocket, str, str]) -> Turn:
            name, socket, box, text = tab
            gate.wait()
            return what_happened(name, text, socket.send_chat(box, text))

        with ThreadPoolExecutor(max_workers=len(tabs)) as pool:
            return list(pool.map(send, tabs))


def sent_text(request: Any) -> str:
    """The person's message in a chat request the provider received."""
    content = request.body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def test_turns_through_both_replicas_at_once_never_overdraw_and_add_up(
    replicas: Replicas, services: Services
) -> None:
    workspace, ana, ben = tight_workspace(services)
    replicas.fake.reset()

    turns = chat_at_once(replicas, ana, ben)

    answered = [t for t in turns if t.charged is not None]
    refused = [t for t in turns if t.charged is None]
    # Five turns' worth of credits: some were answered, the rest refused, saying why.
    assert 1 <= len(answered) <= 5, turns
    assert len(refused) == len(turns) - len(answered)
    for turn in refused:
        assert turn.refusal is not None and turn.refusal.startswith("Not enough credits"), turn
        assert "Nothing was charged." in turn.refusal
    assert {t.charged for t in answered} == {TURN_COST}

    # The provider got exactly the answered turns, each once; each had one hold, captured once.
    requests = replicas.fake.api_requests("/v1/chat/completions")
    assert sorted(sent_text(r) for r in requests) == sorted(t.text for t in answered)
    with services.ledger.engine.connect() as conn:
        account_holds = conn.execute(
            sa.select(holds).where(holds.c.account_id == workspace.account_id)
        ).all()
        captures = conn.execute(
            sa.select(entries.c.hold_id, entries.c.balance_delta).where(
                entries.c.account_id == workspace.account_id, entries.c.kind == "capture"
            )
        ).all()
        usage = conn.execute(
            sa.select(usage_records).where(usage_records.c.account_id == workspace.account_id)
        ).all()
        journal = conn.execute(
            sa.select(entries.c.balance_delta, entries.c.held_delta)
            .where(entries.c.account_id == workspace.account_id)
            .order_by(entries.c.id)
        ).all()
    assert len(account_holds) == len(requests)
    assert {(h.status, h.captured) for h in account_holds} == {("captured", TURN_COST)}
    assert Counter(c.hold_id for c in captures) == Counter({h.id: 1 for h in account_holds})
    # One usage row per hold, charged what was captured; a refusal's row has no hold, no charge.
    held = [u for u in usage if u.hold_id is not None]
    assert sorted(u.hold_id for u in held) == sorted(h.id for h in account_holds)
    assert {(u.status, u.credits) for u in held} == {("ok", TURN_COST)}
    assert sorted((u.status, u.credits) for u in usage if u.hold_id is None) == [
        ("refused", 0)
    ] * len(refused)

    # What each server charged (its tabs' captions) is its person's usage; together, the journal.
    for name, person in (("first", ana), ("second", ben)):
        shown = sum(t.charged or 0 for t in answered if t.server == name)
        assert shown == sum(u.credits for u in held if u.user_id == person.id), name
    charged = sum(t.charged or 0 for t in answered)
    assert charged == -sum(c.balance_delta for c in captures) == len(answered) * TURN_COST
    balance = services.ledger.balance(workspace.account_id)
    assert (balance.balance, balance.held) == (BALANCE - charged, 0)

    # Never overdrawn: the available credits after every journal line, in order.
    available = 0
    for line in journal:
        available += line.balance_delta - line.held_delta
        assert available >= 0, journal
    assert "verify: the books balance" in replicas.second.cli("ledger", "verify")


def test_a_payment_delivered_to_both_replicas_at_once_is_credited_once(
    replicas: Replicas,
) -> None:
    with running_fake_stripe(API_KEY) as stripe:
        stripe.add_price("price_workbench_starter", unit_amount=1000)
        svc = open_services(
            Settings(
                database_url=replicas.database_url,
                stripe_secret_key=SecretStr(API_KEY),
                stripe_api_base=stripe.base_url,
            )
        )
        try:
            demo = svc.ledger.workspace("demo")
            before = svc.ledger.balance(demo.account_id)
            started = svc.billing.start_checkout(
                workspace_id=demo.id,
                user_id=svc.ledger.user("member").id,
                kind="pack",
                offer_id="starter",
                return_url=f"{replicas.first.url}/credits",
                key=uuid.uuid4().hex,
            )
            evt = checkout_completed(stripe.complete_session(started.session_id))
            urls = [server.url + WEBHOOK_PATH for server in (replicas.first, replicas.second)]

            with ThreadPoolExecutor(max_workers=2) as pool:
                answers = [
                    a
                    for batch in pool.map(lambda u: deliver_concurrently(u, [evt] * 5), urls)
                    for a in batch
                ]

            acted, duplicates = first_and_duplicates(answers)
            assert (acted["outcome"], duplicates) == ("granted", 9)
            after = svc.ledger.balance(demo.account_id)
            assert after.available - before.available == STARTER
            assert svc.ledger.verify() == []
        finally:
            svc.ledger.close()
