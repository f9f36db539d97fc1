"""The webhook benchmark (scripts/bench_webhook.py): a small run in a subprocess ends with one JSON
line whose correctness fields say every event was credited once and every redelivery nothing;
bad arguments are refused before anything is created; its checks catch what they look for; and
its raw baseline writes the rows the webhook writes (so the comparison is like for like). No
figure of time is asserted beyond being measured at all."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import stripe
from pydantic import SecretStr

from ledger.schema import accounts, entries, grants
from ledger.service import Ledger
from scripts import bench_webhook
from scripts.bench_webhook import (
    API_KEY,
    NO_STRIPE,
    SECRET,
    Payer,
    RawWebhook,
    make_payer,
    open_backend,
    paid_checkout,
    problems_of,
)
from tests.conftest import POSTGRES_URL
from tests.stripe_events import signed
from tests.stripe_objects import Obj
from workbench.billing.service import Billing, open_billing
from workbench.config import Settings
from workbench.db.ledger_access import open_ledger
from workbench.db.schema import payments, stripe_events

ROOT = Path(__file__).resolve().parent.parent
EVENTS, WARMUP = 12, 2
TIMINGS = (
    "http_p50_ms",
    "http_p99_ms",
    "http_events_per_s",
    "in_process_p50_ms",
    "in_process_p99_ms",
    "duplicate_p50_ms",
    "duplicate_p99_ms",
    "raw_p50_ms",
    "raw_p99_ms",
    "raw_events_per_s",
    "verify_p50_ms",
    "raw_verify_p50_ms",
)
# Differences of two timings: either sign is a measurement.
DIFFERENCES = ("overhead_p50_ms", "http_layer_p50_ms")


def bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script as ``make bench`` runs it, with its temporary files under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "STRIPE_"))}
    env["TMPDIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "scripts.bench_webhook", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def assert_correct(result: dict[str, Any]) -> None:
    assert result["events"] == EVENTS and result["warmup"] == WARMUP
    for key in ("grants", "in_process_grants", "raw_grants", "duplicates"):
        assert result[key] == EVENTS, key
    assert result["duplicates_granted"] == 0
    assert result["redeliveries_acted_on"] == 0
    assert result["verify_problems"] == 0
    assert result["balance_ok"] is True
    # Three sides, each its warm-up and its timed events: one stored event each.
    assert result["stored_events"] == 3 * (EVENTS + WARMUP)
    assert result["problems"] == 0
    assert set(result["targets"]) == {"http_p99_le_50ms", "overhead_p50_le_5ms", "correct"}
    assert result["targets"]["correct"] is True
    assert result["targets_met"] == all(result["targets"].values())
    for key in TIMINGS:
        assert isinstance(result[key], float) and result[key] > 0, key
    for key in DIFFERENCES:
        assert isinstance(result[key], float), key
    statements = result["statements_per_event"]
    # A redelivery only reads; a new event writes at least the raw side's minimum.
    assert 0 < statements["duplicate"] < statements["raw"] <= statements["in_process"]
    assert len(result["loadavg_1m"]) == 2
    assert result["cpus"] == os.cpu_count()


def test_a_small_run_on_sqlite_credits_each_event_once_and_cleans_up(tmp_path: Path) -> None:
    result = last_json(bench(tmp_path, "--events", str(EVENTS), "--warmup", str(WARMUP)))
    assert result["backend"] == "sqlite"
    assert_correct(result)
    assert result["statements_per_event"]["raw"] == 6  # BEGIN IMMEDIATE, SELECT, 4 INSERTs
    assert list(tmp_path.iterdir()) == [], "the temporary database was left behind"


@pytest.mark.postgres
def test_a_small_run_on_postgresql_drops_its_fresh_database(tmp_path: Path) -> None:
    done = bench(tmp_path, "--events", str(EVENTS), "--warmup", str(WARMUP), "--url", POSTGRES_URL)
    result = last_json(done)
    assert result["backend"] == "postgresql"
    assert_correct(result)
    [name] = re.findall(r"created database (bench_\w+)", done.stderr)
    admin = sa.make_url(POSTGRES_URL).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False)) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert found == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "0"], "--events and --warmup must be positive"),
        (["--warmup", "-1"], "--events and --warmup must be positive"),
        (["--url", "mysql://bench@127.0.0.1/bench"], "not an SQLite or PostgreSQL URL"),
        (["--url", "not a url"], "not an SQLite or PostgreSQL URL"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_made(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = bench(tmp_path, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


# --- the checks find what they look for ---------------------------------------------------------


def counted(n: int, **changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {"verify_problems": 0, "stored_events": 3 * (EVENTS + WARMUP)}
    for side in ("http", "in_process", "raw"):
        figures |= {f"{side}_grants": n, f"{side}_payments": n, f"{side}_balance_ok": True}
    return figures | changes


@pytest.mark.parametrize(
    ("timed", "warm", "acted_on", "problem"),
    [
        (counted(EVENTS, http_grants=EVENTS + 1), counted(WARMUP), 0, "http: 13 grants"),
        (counted(EVENTS, raw_payments=EVENTS - 1), counted(WARMUP), 0, "raw: 11 payments"),
        (counted(EVENTS, in_process_balance_ok=False), counted(WARMUP), 0, "in_process: the bal"),
        (counted(EVENTS), counted(WARMUP, http_grants=1), 0, "http: 1 grants for 2 events"),
        (counted(EVENTS, verify_problems=2), counted(WARMUP), 0, "Ledger.verify(): 2 problems"),
        (counted(EVENTS), counted(WARMUP), 3, "3 redeliveries were acted on"),
        (counted(EVENTS, stored_events=41), counted(WARMUP), 0, "41 stored events for 42"),
    ],
)
def test_each_check_reports_what_is_wrong(
    timed: dict[str, Any], warm: dict[str, Any], acted_on: int, problem: str
) -> None:
    assert problems_of(counted(EVENTS), counted(WARMUP), EVENTS, WARMUP, 0) == []
    [found] = problems_of(timed, warm, EVENTS, WARMUP, acted_on)
    assert found.startswith(problem)


# --- the raw baseline does the webhook's work ----------------------------------------------------


class Opened:
    def __init__(self, book: Ledger, billing: Billing, raw: RawWebhook, conn: Any) -> None:
        self.book, self.billing, self.raw, self.conn = book, billing, raw, conn
        self.offer = next(o for o in billing.offers("pack") if o.id == bench_webhook.OFFER)

    def event(self, payer: Payer) -> Obj:
        return paid_checkout(payer, self.offer, 1000)

    def rows(self, payer: Payer) -> dict[str, Any]:
        """What one paid checkout left for ``payer``, without ids, times and wording."""
        with self.book.engine.connect() as conn:
            [grant] = conn.execute(sa.select(grants).where(grants.c.account_id == payer.account_id))
            [entry] = conn.execute(
                sa.select(entries).where(entries.c.account_id == payer.account_id)
            )
            [paid] = conn.execute(
                sa.select(payments).where(payments.c.workspace_id == payer.workspace_id)
            )
            [account] = conn.execute(sa.select(accounts).where(accounts.c.id == payer.account_id))
        reference = grant.reference
        assert reference.startswith("stripe:cs_test_")
        assert entry.grant_id == grant.id and paid.grant_id == grant.id
        assert entry.reference == reference and paid.reference == reference
        return {
            "grant": (grant.kind, grant.amount, grant.remaining, grant.priority, grant.expires_at),
            "entry": (entry.kind, entry.balance_delta, entry.held_delta, entry.debt_delta),
            "payment": (paid.kind, paid.offer_id, paid.micros, paid.amount_cents, paid.currency),
            "account": (account.balance, account.held, account.debt),
        }

    def count(self, table: sa.Table) -> int:
        with self.book.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.fixture
def opened(db_url: str) -> Iterator[Opened]:
    backend = open_backend(db_url, fresh=False)
    config = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=backend.url,
        stripe_webhook_secret=SecretStr(SECRET),
        stripe_secret_key=SecretStr(API_KEY),
        stripe_api_base=NO_STRIPE,
    )
    book = open_ledger(config)
    conn = backend.connect_raw()
    try:
        yield Opened(
            book, open_billing(book, config), RawWebhook(conn, backend.name == "sqlite"), conn
        )
    finally:
        conn.close()
        book.close()


def test_the_raw_side_writes_what_the_webhook_writes(opened: Opened) -> None:
    ours, raw = make_payer(opened.book, "ours"), make_payer(opened.book, "raw")
    body, headers = signed(opened.event(ours), SECRET)
    assert opened.billing.receive(body, headers["Stripe-Signature"]).outcome == "granted"
    ours_rows = opened.rows(ours)
    body, headers = signed(opened.event(raw), SECRET)
    opened.raw.receive(body, headers["Stripe-Signature"])
    raw_rows = opened.rows(raw)
    assert raw_rows == ours_rows
    assert raw_rows["account"] == (opened.offer.micros, 0, 0)
    with opened.book.engine.connect() as conn:
        stored = conn.execute(sa.select(stripe_events.c.type, stripe_events.c.outcome)).all()
    assert [tuple(row) for row in stored] == [("checkout.session.completed", "granted")] * 2
    assert opened.book.verify() == []


def test_the_raw_side_refuses_a_redelivery_and_a_bad_signature_writing_nothing(
    opened: Opened,
) -> None:
    payer = make_payer(opened.book, "raw")
    evt = opened.event(payer)
    body, headers = signed(evt, SECRET)
    opened.raw.receive(body, headers["Stripe-Signature"])
    before = {t.name: opened.count(t) for t in (grants, entries, payments, stripe_events)}
    # Stripe's retry: the same event, signed anew.
    again, again_headers = signed(evt, SECRET)
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)) as refused:
        opened.raw.receive(again, again_headers["Stripe-Signature"])
    assert "stripe_events" in str(refused.value)
    tampered = body.replace(b'"paid"', b'"unpaid"')
    with pytest.raises(stripe.SignatureVerificationError):
        opened.raw.receive(tampered, headers["Stripe-Signature"])
    after = {t.name: opened.count(t) for t in (grants, entries, payments, stripe_events)}
    assert after == before
    assert opened.book.balance(payer.account_id).balance == opened.offer.micros
