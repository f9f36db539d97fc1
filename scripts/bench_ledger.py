#!/usr/bin/env python3
"""Benchmark the ledger's hot path: reserve + capture pairs, against the raw driver doing the same.

    .venv/bin/python -m scripts.bench_ledger                      # SQLite (a temporary file)
    .venv/bin/python -m scripts.bench_ledger --url postgresql://postgres@127.0.0.1:5432/test

What is measured, in one run:

* sequential: ``Ledger.reserve`` then ``Ledger.capture`` (a partial capture, so a release line is
  written too), unique idempotency keys, one account; and the *same transactions* issued through
  the raw driver (``sqlite3`` / ``psycopg``): the SQL text the ledger sends is captured at start-up
  with a ``before_cursor_execute`` listener on a separate probe engine (so the measured engine
  carries no extra event hooks) and replayed literally — the BEGIN IMMEDIATE that opens each
  SQLite transaction included — in the same order and transaction boundaries, with parameters
  built by hand. The hand-built parameters are checked against the captured ones
  before anything is timed, so the baseline cannot drift from what the ledger really does.
  The two alternate in rounds (ours/raw, then raw/ours...) so machine noise hits both alike.
* threaded: ``--threads`` threads doing pairs on one hot account through the ``Ledger`` (and,
  also in alternating rounds, through the raw driver: the PostgreSQL target compares the two).
* correctness: ``Ledger.verify()`` over everything written (the raw path's writes included) and
  a direct count of accounts whose available credits are negative.

With ``--url postgresql://...`` a fresh database ``bench_<random>`` is created on that server and
dropped afterwards (``--no-fresh-db`` uses the URL's database as it is). Progress goes to stderr;
the last line of stdout is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from ledger.amounts import credits, request_identity
from ledger.db import sqlite_pragmas
from ledger.service import DEFAULT_HOLD_TTL, Ledger
from scripts.bench_measure import log, percentile, stage

ROOT = Path(__file__).resolve().parent.parent

PRICES = ROOT / "data" / "prices.toml"
MODEL = "demo/chat"
FEATURE = "ai_text_chat"
OPERATION = "text_chat"
# A chat turn's real amounts, in micro-credits: the hold of a short prompt with room for a
# 1,024-token reply on demo/chat (0.4116 credits) and the capture of a short answer (0.0234).
HOLD_AMOUNT = credits("0.4116")
CAPTURE_AMOUNT = credits("0.0234")  # partial: the rest goes back as a release line
RELEASE_REASON = "unused part of the hold"
SEED_CREDITS = credits(100_000_000)
TTL = DEFAULT_HOLD_TTL

# One reserve + capture as the ledger issues it: (name, statement prefix, executemany). On SQLite
# each transaction opens with the engine's BEGIN IMMEDIATE (psycopg begins implicitly), and the
# capture's first SELECT brings the account's open grants along; PostgreSQL reads them after the
# account's row lock, by a SELECT of their own.
Shape = tuple[tuple[str, str, bool], ...]
BEGIN_SHAPE: Shape = (("begin", "BEGIN IMMEDIATE", False),)
RESERVE_SHAPE: Shape = (
    ("reserve_facts", "SELECT accounts.id", False),
    ("insert_hold", "INSERT INTO holds", False),  # its journal line: a trigger, in this statement
    ("record_reserve", "INSERT INTO idempotency_keys", False),
)
OPEN_GRANTS_SHAPE: Shape = (("open_grants", "SELECT grants.id", False),)


def expected_shape(sqlite: bool) -> Shape:
    begin = BEGIN_SHAPE if sqlite else ()
    capture: Shape = (
        ("capture_facts", "SELECT holds.id", False),
        ("resolve_hold", "UPDATE holds", False),
        *(() if sqlite else OPEN_GRANTS_SHAPE),
        ("insert_capture_entries", "INSERT INTO entries", True),
        ("record_capture", "INSERT INTO idempotency_keys", False),
    )
    return begin + RESERVE_SHAPE + begin + capture


# --- what the ledger sends -----------------------------------------------------------------------


@dataclass(frozen=True)
class Statements:
    """The SQL text of one reserve + capture, exactly as the ledger's engine sent it."""

    begin: str | None  # what opens each transaction (SQLite), None where the driver begins
    reserve_facts: str
    insert_hold: str
    record_reserve: str
    capture_facts: str  # on SQLite with the account's open grants, one row per grant
    resolve_hold: str
    open_grants: str | None  # PostgreSQL only
    insert_capture_entries: str
    record_capture: str


@dataclass(frozen=True)
class Captured:
    name: str
    statement: str
    parameters: Any
    many: bool


@dataclass(frozen=True)
class Fixture:
    """One workspace for the benchmark: its account, a member who spends, its one grant."""

    account_id: int
    user_id: int
    grant_id: int


@dataclass(frozen=True)
class Probe:
    """The inputs of the probe pair, so the raw parameter builders can be checked against it."""

    fixture: Fixture
    reserve_key: str
    capture_key: str
    hold_id: int
    price_version_id: int
    now: datetime
    captured: list[Captured]  # in order, named as in ``expected_shape``


def capture_statements(url: str, fixture: Fixture, run: str) -> Probe:
    """Run one pair through a separate probe engine with a cursor listener; return what it sent."""
    now = datetime.now(UTC).replace(microsecond=123456)
    probe = Ledger.open(url, migrate=False, clock=lambda: now, pool_size=1)
    seen: list[tuple[str, Any, bool]] = []

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        seen.append((statement, parameters, many))

    try:
        price_version_id = probe.price(MODEL).version_id
        assert price_version_id is not None
        sa.event.listen(probe.engine, "before_cursor_execute", listener)
        reserve_key, capture_key = f"{run}-probe-r", f"{run}-probe-c"
        hold = probe.reserve(
            fixture.account_id,
            user_id=fixture.user_id,
            feature_key=FEATURE,
            model=MODEL,
            amount=HOLD_AMOUNT,
            key=reserve_key,
        ).hold
        probe.capture(hold.id, CAPTURE_AMOUNT, key=capture_key)
    finally:
        probe.close()
    expected = expected_shape(sa.make_url(url).get_backend_name() == "sqlite")
    ok = len(seen) == len(expected) and all(
        statement.lstrip().startswith(prefix) and many == want_many
        for (statement, _, many), (_, prefix, want_many) in zip(seen, expected, strict=True)
    )
    if not ok:
        listing = "\n".join(f"  many={many} {statement[:90]!r}" for statement, _, many in seen)
        raise SystemExit(
            "the ledger no longer issues the reserve/capture statements this benchmark replays; "
            f"update the raw baseline. It sent:\n{listing}"
        )
    captured = [
        Captured(name, statement, parameters, many)
        for (statement, parameters, many), (name, _, _) in zip(seen, expected, strict=True)
    ]
    return Probe(fixture, reserve_key, capture_key, hold.id, price_version_id, now, captured)


def statements_of(probe: Probe) -> Statements:
    sql = {c.name: c.statement for c in probe.captured}
    return Statements(
        begin=sql.get("begin"),
        reserve_facts=sql["reserve_facts"],
        insert_hold=sql["insert_hold"],
        record_reserve=sql["record_reserve"],
        capture_facts=sql["capture_facts"],
        resolve_hold=sql["resolve_hold"],
        open_grants=sql.get("open_grants"),
        insert_capture_entries=sql["insert_capture_entries"],
        record_capture=sql["record_capture"],
    )


# --- the raw driver's parameters -----------------------------------------------------------------


def request_hash(scope: str, params: dict[str, Any]) -> str:
    """The idempotency key's request hash (same definition as ``ledger.idempotency``)."""
    return hashlib.sha256(repr((scope, sorted(params.items()))).encode()).hexdigest()


def reserve_digest(account_id: int, user_id: int) -> str:
    params = {
        "account_id": account_id,
        "user_id": user_id,
        "feature_key": FEATURE,
        "model": MODEL,
        "amount": request_identity(HOLD_AMOUNT),
        "ttl": TTL.total_seconds(),
    }
    return request_hash("reserve", params)


def capture_digest(hold_id: int) -> str:
    params = {"hold_id": hold_id, "amount": request_identity(CAPTURE_AMOUNT)}
    return request_hash("capture", params)


def hold_outcome(hold_id: int) -> str:
    return json.dumps({"ok": {"hold_id": hold_id}}, default=str)


class Params(Protocol):
    """Parameters for each statement in the driver's own style (qmark tuples / named dicts)."""

    def stamp(self, when: datetime) -> Any: ...
    def no_parameters(self) -> Any: ...
    def reserve_facts(self, key: str, account_id: int, user_id: int) -> Any: ...
    def insert_hold(
        self, account_id: int, user_id: int, price_version_id: int, now: Any, expires: Any
    ) -> Any: ...
    def entry(
        self,
        account_id: int,
        kind: str,
        balance_delta: int,
        held_delta: int,
        hold_id: int,
        grant_id: int | None,
        reason: str | None,
        now: Any,
    ) -> Any: ...
    def record(self, scope: str, key: str, digest: str, outcome: str, now: Any) -> Any: ...
    def capture_facts(self, key: str, hold_id: int) -> Any: ...
    def resolve(self, hold_id: int, captured: int, now: Any) -> Any: ...
    def open_grants(self, account_id: int) -> Any: ...


class SqliteParams:
    """pysqlite: positional tuples, datetimes as SQLAlchemy's SQLite text format (naive UTC)."""

    def stamp(self, when: datetime) -> str:
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def no_parameters(self) -> tuple[Any, ...]:
        return ()

    def reserve_facts(self, key: str, account_id: int, user_id: int) -> tuple[Any, ...]:
        return (user_id, MODEL, 1, 0, "reserve", key, account_id)

    def insert_hold(
        self, account_id: int, user_id: int, price_version_id: int, now: Any, expires: Any
    ) -> tuple[Any, ...]:
        return (
            account_id,
            user_id,
            OPERATION,
            FEATURE,
            MODEL,
            price_version_id,
            HOLD_AMOUNT,
            "pending",
            now,
            expires,
        )

    def entry(
        self,
        account_id: int,
        kind: str,
        balance_delta: int,
        held_delta: int,
        hold_id: int,
        grant_id: int | None,
        reason: str | None,
        now: Any,
    ) -> tuple[Any, ...]:
        return (
            account_id,
            kind,
            balance_delta,
            held_delta,
            hold_id,
            grant_id,
            OPERATION,
            None,
            reason,
            now,
        )

    def record(self, scope: str, key: str, digest: str, outcome: str, now: Any) -> tuple[Any, ...]:
        return (scope, key, digest, outcome, now)

    def capture_facts(self, key: str, hold_id: int) -> tuple[Any, ...]:
        # The joins' conditions (the key's, then the open grants' ``remaining > 0``), then WHERE.
        return ("capture", key, 0, hold_id)

    def resolve(self, hold_id: int, captured: int, now: Any) -> tuple[Any, ...]:
        return (captured, "captured", None, now, hold_id, "pending")

    def open_grants(self, account_id: int) -> tuple[Any, ...]:
        return (account_id, 0)


class PostgresParams:
    """psycopg: named dicts (SQLAlchemy's bind names), aware datetimes."""

    def stamp(self, when: datetime) -> datetime:
        return when

    def no_parameters(self) -> dict[str, Any]:
        return {}

    def reserve_facts(self, key: str, account_id: int, user_id: int) -> dict[str, Any]:
        return {
            "scope_1": "reserve",
            "idem_key": key,
            "user_id": user_id,
            "model": MODEL,
            "param_1": 1,
            "account_id": account_id,
        }

    def insert_hold(
        self, account_id: int, user_id: int, price_version_id: int, now: Any, expires: Any
    ) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "user_id": user_id,
            "operation_type": OPERATION,
            "feature_key": FEATURE,
            "model": MODEL,
            "price_version_id": price_version_id,
            "amount": HOLD_AMOUNT,
            "status": "pending",
            "created_at": now,
            "expires_at": expires,
        }

    def entry(
        self,
        account_id: int,
        kind: str,
        balance_delta: int,
        held_delta: int,
        hold_id: int,
        grant_id: int | None,
        reason: str | None,
        now: Any,
    ) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "kind": kind,
            "balance_delta": balance_delta,
            "held_delta": held_delta,
            "hold_id": hold_id,
            "grant_id": grant_id,
            "operation_type": OPERATION,
            "actor_user_id": None,
            "reason": reason,
            "created_at": now,
        }

    def record(self, scope: str, key: str, digest: str, outcome: str, now: Any) -> dict[str, Any]:
        return {
            "scope": scope,
            "key": key,
            "request_hash": digest,
            "outcome": outcome,
            "created_at": now,
        }

    def capture_facts(self, key: str, hold_id: int) -> dict[str, Any]:
        return {"scope_1": "capture", "idem_key": key, "hold_id": hold_id}

    def resolve(self, hold_id: int, captured: int, now: Any) -> dict[str, Any]:
        return {
            "captured_amount": captured,
            "new_status": "captured",
            "reason": None,
            "now": now,
            "hold_id": hold_id,
            "status_1": "pending",
        }

    def open_grants(self, account_id: int) -> dict[str, Any]:
        return {"account_id": account_id, "remaining_1": 0}


def expected_parameters(p: Params, probe: Probe) -> dict[str, Any]:
    """What the raw builders produce for the probe pair's inputs, statement by statement."""
    fx, now = probe.fixture, p.stamp(probe.now)
    hold_id = probe.hold_id
    released = HOLD_AMOUNT - CAPTURE_AMOUNT
    return {
        "begin": p.no_parameters(),
        "reserve_facts": p.reserve_facts(probe.reserve_key, fx.account_id, fx.user_id),
        "insert_hold": p.insert_hold(
            fx.account_id, fx.user_id, probe.price_version_id, now, p.stamp(probe.now + TTL)
        ),
        "record_reserve": p.record(
            "reserve",
            probe.reserve_key,
            reserve_digest(fx.account_id, fx.user_id),
            hold_outcome(hold_id),
            now,
        ),
        "capture_facts": p.capture_facts(probe.capture_key, hold_id),
        "resolve_hold": p.resolve(hold_id, CAPTURE_AMOUNT, now),
        "open_grants": p.open_grants(fx.account_id),
        "insert_capture_entries": [
            p.entry(
                fx.account_id,
                "capture",
                -CAPTURE_AMOUNT,
                -CAPTURE_AMOUNT,
                hold_id,
                fx.grant_id,
                None,
                now,
            ),
            p.entry(fx.account_id, "release", 0, -released, hold_id, None, RELEASE_REASON, now),
        ],
        "record_capture": p.record(
            "capture", probe.capture_key, capture_digest(hold_id), hold_outcome(hold_id), now
        ),
    }


def check_parameters(p: Params, probe: Probe) -> None:
    def norm(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value

    expected = expected_parameters(p, probe)
    for got in probe.captured:
        want = expected[got.name]
        if norm(want) != norm(got.parameters):
            raise SystemExit(
                f"raw parameters of {got.name} differ from the ledger's:\n"
                f"  ledger: {got.parameters!r}\n  raw:    {want!r}\n  sql: {got.statement[:120]!r}"
            )


# --- the raw pair --------------------------------------------------------------------------------


class RawRefused(Exception):
    """The raw path met a state the benchmark does not set up (it only does the happy path)."""


class RawPair:
    """reserve + capture through a bare DB-API connection: the ledger's SQL, minimal Python."""

    def __init__(
        self,
        conn: Any,
        sql: Statements,
        params: Params,
        *,
        fixture: Fixture,
        price_version_id: int,
    ) -> None:
        self.conn = conn
        self.sql = sql
        self.p = params
        self.fx = fixture
        self.price_version_id = price_version_id
        self.reserve_digest = reserve_digest(fixture.account_id, fixture.user_id)
        self.insert_returns = " RETURNING " in sql.insert_hold
        self._reserve_cols: dict[str, int] = {}
        self._capture_cols: dict[str, int] = {}

    def close(self) -> None:
        self.conn.close()

    def _begin(self, cur: Any) -> None:
        # The ledger's own BEGIN (SQLite: BEGIN IMMEDIATE). psycopg opens the transaction itself
        # at the first statement (READ COMMITTED), as it does for the ledger.
        if self.sql.begin is not None:
            cur.execute(self.sql.begin)

    def reserve(self, key: str) -> int:
        sql, p, fx = self.sql, self.p, self.fx
        when = datetime.now(UTC)
        now, expires = p.stamp(when), p.stamp(when + TTL)
        cur = self.conn.cursor()
        try:
            self._begin(cur)
            cur.execute(sql.reserve_facts, p.reserve_facts(key, fx.account_id, fx.user_id))
            row = cur.fetchone()
            if not self._reserve_cols:
                self._reserve_cols = {d[0]: i for i, d in enumerate(cur.description)}
            c = self._reserve_cols
            if row is None or row[c["idem_hash"]] is not None or row[c["member_id"]] is None:
                raise RawRefused("unknown account, used key or not a member")
            if not row[c["price_active"]] or row[c["price_feature_key"]] != FEATURE:
                raise RawRefused("unpriced model")
            if row[c["next_grant_expiry"]] is not None or row[c["monthly_cap"]] is not None:
                raise RawRefused("grant expiry / monthly cap: not set up by the benchmark")
            if row[c["balance"]] - row[c["held"]] < HOLD_AMOUNT:
                raise RawRefused("insufficient credits")
            cur.execute(
                sql.insert_hold,
                p.insert_hold(fx.account_id, fx.user_id, row[c["price_version_id"]], now, expires),
            )
            # As SQLAlchemy gets the new id: RETURNING where it asked for it, else lastrowid.
            hold_id: int = cur.fetchone()[0] if self.insert_returns else cur.lastrowid
            cur.execute(
                sql.record_reserve,
                p.record("reserve", key, self.reserve_digest, hold_outcome(hold_id), now),
            )
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            cur.close()
        return hold_id

    def capture(self, hold_id: int, key: str) -> None:
        sql, p, fx = self.sql, self.p, self.fx
        when = datetime.now(UTC)
        now = p.stamp(when)
        cur = self.conn.cursor()
        try:
            self._begin(cur)
            cur.execute(sql.capture_facts, p.capture_facts(key, hold_id))
            rows = cur.fetchall()
            if not self._capture_cols:
                self._capture_cols = {d[0]: i for i, d in enumerate(cur.description)}
            c = self._capture_cols
            row = rows[0] if rows else None
            if row is None or row[c["idem_hash"]] is not None:
                raise RawRefused("unknown hold or used key")
            amount = row[c["amount"]]
            if amount < CAPTURE_AMOUNT or row[c["status"]] != "pending":
                raise RawRefused("capture above the hold, or hold not pending")
            if row[c["expires_at"]] <= now or row[c["next_grant_expiry"]] is not None:
                raise RawRefused("hold expired / grant expiry due")
            cur.execute(sql.resolve_hold, p.resolve(hold_id, CAPTURE_AMOUNT, now))
            if cur.rowcount != 1:
                raise RawRefused("hold resolved concurrently")
            if sql.open_grants is None:  # SQLite: they came with the facts
                g0 = c["grant_id"]
                found = [r[g0 : g0 + 4] for r in rows if r[g0] is not None]
            else:
                cur.execute(sql.open_grants, p.open_grants(fx.account_id))
                found = cur.fetchall()
            open_grants = sorted(
                found,
                key=lambda g: (
                    0 if g[3] is not None and g[3] <= now else 1,
                    g[2],
                    int(g[3] is None),
                    g[3] or now,
                    g[0],
                ),
            )
            left = CAPTURE_AMOUNT
            lines: list[Any] = []
            for grant_id, remaining, _priority, _expires in open_grants:
                if left == 0:
                    break
                take = min(remaining, left)
                left -= take
                held_delta = 0 if lines else -CAPTURE_AMOUNT
                lines.append(
                    p.entry(
                        fx.account_id, "capture", -take, held_delta, hold_id, grant_id, None, now
                    )
                )
            if left:
                raise RawRefused("grants short")
            # The journal's trigger takes each line's share from its grant.
            released = amount - CAPTURE_AMOUNT
            lines.append(
                p.entry(fx.account_id, "release", 0, -released, hold_id, None, RELEASE_REASON, now)
            )
            cur.executemany(sql.insert_capture_entries, lines)
            cur.execute(
                sql.record_capture,
                p.record("capture", key, capture_digest(hold_id), hold_outcome(hold_id), now),
            )
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            cur.close()

    def pair(self, key: str) -> None:
        self.capture(self.reserve(f"{key}-r"), f"{key}-c")


# --- backends ------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    url: str
    connect_raw: Callable[[], Any]
    params: Params
    cleanup: Callable[[], None]


def sqlite_backend(url: str | None) -> Backend:
    tmpdir: str | None = None
    if url is None:
        tmpdir = tempfile.mkdtemp(prefix="bench_ledger_")
        url = f"sqlite:///{tmpdir}/ledger.db"
    database = sa.make_url(url).database
    if not database or database == ":memory:":
        raise SystemExit("the benchmark needs an SQLite file (two connections share it)")

    def connect() -> sqlite3.Connection:
        # As ledger.db sets up its connections: driver transactions off, then the same pragmas.
        conn = sqlite3.connect(database, timeout=30.0, check_same_thread=False)
        conn.isolation_level = None
        for pragma in sqlite_pragmas():
            conn.execute(pragma)
        return conn

    def cleanup() -> None:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)

    return Backend("sqlite", url, connect, SqliteParams(), cleanup)


def postgres_backend(url: str, fresh: bool) -> Backend:
    import psycopg

    base = sa.make_url(url).set(drivername="postgresql")
    name = base.database
    if fresh:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base.render_as_string(hide_password=False), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        log(f"created database {name}")
    target = base.set(database=name)
    conninfo = target.render_as_string(hide_password=False)

    def connect() -> Any:
        return psycopg.connect(conninfo)

    def cleanup() -> None:
        if fresh:
            with psycopg.connect(
                base.render_as_string(hide_password=False), autocommit=True
            ) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped database {name}")

    return Backend("postgresql", conninfo, connect, PostgresParams(), cleanup)


# --- set-up --------------------------------------------------------------------------------------


def make_fixture(book: Ledger, slug: str) -> Fixture:
    workspace = book.create_workspace(slug, slug)
    member = book.create_user(f"{slug}-member")
    book.add_member(workspace.id, member.id, "member")
    grant = book.grant(workspace.account_id, SEED_CREDITS, kind="paid", key=f"{slug}-seed")
    return Fixture(workspace.account_id, member.id, grant.grant_id)


def ours_pair(book: Ledger, fx: Fixture, key: str) -> tuple[float, float]:
    """One reserve + capture through the Ledger; returns (reserve, capture) seconds."""
    t0 = time.perf_counter()
    hold = book.reserve(
        fx.account_id,
        user_id=fx.user_id,
        feature_key=FEATURE,
        model=MODEL,
        amount=HOLD_AMOUNT,
        key=f"{key}-r",
    ).hold
    t1 = time.perf_counter()
    book.capture(hold.id, CAPTURE_AMOUNT, key=f"{key}-c")
    return t1 - t0, time.perf_counter() - t1


# --- runs ----------------------------------------------------------------------------------------


@dataclass
class Sequential:
    """Sequential run: both sides' totals, the Ledger's per-call latencies, per-round rates."""

    ours_s: float = 0.0
    raw_s: float = 0.0
    ours_cpu_s: float = 0.0
    raw_cpu_s: float = 0.0
    pairs: int = 0
    reserve_s: list[float] = field(default_factory=list)
    capture_s: list[float] = field(default_factory=list)
    ours_rounds: list[float] = field(default_factory=list)
    raw_rounds: list[float] = field(default_factory=list)


def sequential(
    book: Ledger, raw: RawPair, ours_fx: Fixture, run: str, pairs: int, round_size: int
) -> Sequential:
    """Rounds of ``round_size`` pairs per side, alternating which side goes first."""
    out = Sequential()
    round_no = 0
    while out.pairs < pairs:
        n = min(round_size, pairs - out.pairs)
        order = ("ours", "raw") if round_no % 2 == 0 else ("raw", "ours")
        for side in order:
            cpu = time.process_time()
            start = time.perf_counter()
            if side == "ours":
                for i in range(n):
                    r, c = ours_pair(book, ours_fx, f"{run}-s{round_no}-{i}")
                    out.reserve_s.append(r)
                    out.capture_s.append(c)
            else:
                for i in range(n):
                    raw.pair(f"{run}-raw-s{round_no}-{i}")
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            if side == "ours":
                out.ours_s += seconds
                out.ours_cpu_s += cpu
                out.ours_rounds.append(n / seconds)
            else:
                out.raw_s += seconds
                out.raw_cpu_s += cpu
                out.raw_rounds.append(n / seconds)
        out.pairs += n
        log(
            f"  round {round_no}: ours {out.ours_rounds[-1]:7.0f} pairs/s, "
            f"raw {out.raw_rounds[-1]:7.0f} pairs/s"
        )
        round_no += 1
    return out


def run_threads(
    threads: int, per_thread: int, work: Callable[[int, int], object]
) -> tuple[float, int]:
    """``work(thread, i)`` for i < per_thread in each of ``threads`` threads, started together.

    Returns (wall seconds, number of failed pairs).
    """
    barrier = threading.Barrier(threads + 1)
    failures = [0] * threads

    def body(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            try:
                work(t, i)
            except Exception as error:
                failures[t] += 1
                if failures[t] == 1:
                    log(f"  thread {t}: {type(error).__name__}: {error}")

    workers = [threading.Thread(target=body, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start, sum(failures)


def threaded(
    book: Ledger,
    backend: Backend,
    sql: Statements,
    hot_ours: Fixture,
    hot_raw: Fixture,
    price_version_id: int,
    run: str,
    threads: int,
    total_pairs: int,
    rounds: int,
) -> tuple[float, float, int, int]:
    """Hot-account threads, ours and raw alternating.

    Returns (ours pairs/s, raw pairs/s, pairs per side, failed pairs).
    """
    raws = [
        RawPair(
            backend.connect_raw(),
            sql,
            backend.params,
            fixture=hot_raw,
            price_version_id=price_version_id,
        )
        for _ in range(threads)
    ]
    per_thread = max(1, total_pairs // (threads * rounds))
    ours_time = raw_time = 0.0
    failed = 0
    try:
        # Warm-up: every pool connection opened, every raw connection used once.
        run_threads(threads, 2, lambda t, i: ours_pair(book, hot_ours, f"{run}-tw-{t}-{i}"))
        run_threads(threads, 2, lambda t, i: raws[t].pair(f"{run}-raw-tw-{t}-{i}"))
        for r in range(rounds):
            order = ("ours", "raw") if r % 2 == 0 else ("raw", "ours")
            for side in order:
                if side == "ours":

                    def work(t: int, i: int, r: int = r) -> None:
                        ours_pair(book, hot_ours, f"{run}-t{r}-{t}-{i}")
                else:

                    def work(t: int, i: int, r: int = r) -> None:
                        raws[t].pair(f"{run}-raw-t{r}-{t}-{i}")

                seconds, bad = run_threads(threads, per_thread, work)
                failed += bad
                rate = threads * per_thread / seconds
                log(f"  round {r} {side:4}: {rate:7.0f} pairs/s ({threads} threads)")
                if side == "ours":
                    ours_time += seconds
                else:
                    raw_time += seconds
    finally:
        for raw in raws:
            raw.close()
    done = threads * per_thread * rounds
    return done / ours_time, done / raw_time, done, failed


def negative_available(book: Ledger) -> int:
    with book.engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM accounts WHERE balance - held < 0"
            ).scalar_one()
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--pairs", type=int, default=3000, help="sequential pairs per side")
    parser.add_argument("--round-size", type=int, default=250, help="pairs per alternating round")
    parser.add_argument("--warmup", type=int, default=100, help="untimed pairs per side first")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--threaded-pairs",
        type=int,
        default=None,
        help="threaded pairs per side, all threads together (default: 3200 on SQLite, 1600 on "
        "PostgreSQL, where the hot account's row lock makes them slow)",
    )
    parser.add_argument("--threaded-rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument(
        "--no-fresh-db",
        action="store_true",
        help="PostgreSQL: use the URL's database as it is instead of a fresh bench_<random>",
    )
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.threads < 1 or args.round_size < 1 or args.threaded_rounds < 1:
        parser.error("--pairs, --round-size, --threads and --threaded-rounds must be positive")
    if args.threaded_pairs is not None and args.threaded_pairs < 1:
        parser.error("--threaded-pairs must be positive")

    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    backend_name = sa.make_url(args.url).get_backend_name() if args.url else "sqlite"
    if backend_name == "sqlite":
        backend = sqlite_backend(args.url)
    elif backend_name == "postgresql":
        backend = postgres_backend(args.url, fresh=not args.no_fresh_db)
    else:
        parser.error(f"unsupported database URL {args.url!r}")
    threaded_pairs = args.threaded_pairs or (3200 if backend.name == "sqlite" else 1600)
    run = uuid.uuid4().hex[:8]
    book: Ledger | None = None
    raw: RawPair | None = None
    try:
        with stage(f"set-up ({backend.name})"):
            book = Ledger.open(backend.url)
            book.import_prices(PRICES)
            seq_ours = make_fixture(book, f"bench-{run}-seq-ours")
            seq_raw = make_fixture(book, f"bench-{run}-seq-raw")
            hot_ours = make_fixture(book, f"bench-{run}-hot-ours")
            hot_raw = make_fixture(book, f"bench-{run}-hot-raw")
            probe = capture_statements(backend.url, seq_ours, run)
            check_parameters(backend.params, probe)
            sql = statements_of(probe)
            log(f"replaying {len(probe.captured)} captured statements; parameters match")
            raw = RawPair(
                backend.connect_raw(),
                sql,
                backend.params,
                fixture=seq_raw,
                price_version_id=probe.price_version_id,
            )
        with stage(f"warm-up ({args.warmup} pairs per side)"):
            for i in range(args.warmup):
                ours_pair(book, seq_ours, f"{run}-w-{i}")
                raw.pair(f"{run}-raw-w-{i}")
        with stage(f"sequential ({args.pairs} pairs per side)"):
            seq = sequential(book, raw, seq_ours, run, args.pairs, args.round_size)
        with stage(f"threaded ({args.threads} threads, one hot account)"):
            t_ours, t_raw, threaded_done, failed = threaded(
                book,
                backend,
                sql,
                hot_ours,
                hot_raw,
                probe.price_version_id,
                run,
                args.threads,
                threaded_pairs,
                args.threaded_rounds,
            )
        with stage("verify"):
            problems = book.verify()
            negative = negative_available(book)
            for problem in problems[:10]:
                log(f"  verify: {problem}")
        ours_rate, raw_rate = seq.pairs / seq.ours_s, seq.pairs / seq.raw_s
        ratio = raw_rate / ours_rate
        result: dict[str, Any] = {
            "backend": backend.name,
            "pairs": seq.pairs,
            "pairs_per_s": round(ours_rate, 1),
            "raw_pairs_per_s": round(raw_rate, 1),
            "ratio": round(ratio, 2),
            "median_round_pairs_per_s": round(statistics.median(seq.ours_rounds), 1),
            "raw_median_round_pairs_per_s": round(statistics.median(seq.raw_rounds), 1),
            "cpu_us_per_pair": round(seq.ours_cpu_s / seq.pairs * 1e6, 1),
            "raw_cpu_us_per_pair": round(seq.raw_cpu_s / seq.pairs * 1e6, 1),
            "p50_reserve_ms": round(percentile(seq.reserve_s, 0.50) * 1000, 3),
            "p99_reserve_ms": round(percentile(seq.reserve_s, 0.99) * 1000, 3),
            "p99_capture_ms": round(percentile(seq.capture_s, 0.99) * 1000, 3),
            "threads": args.threads,
            "threaded_pairs": threaded_done,
            "threaded_pairs_per_s": round(t_ours, 1),
            "raw_threaded_pairs_per_s": round(t_raw, 1),
            "threaded_ours_vs_raw": round(t_ours / t_raw, 3),
            "failed_pairs": failed,
            "verify_problems": len(problems),
            "negative_available": negative,
            "violations": len(problems) + negative,
        }
        if backend.name == "sqlite":
            result["sqlite_version"] = sqlite3.sqlite_version
            targets = {
                "ratio_le_3": ratio <= 3,
                "sequential_ge_1500": ours_rate >= 1500,
                "threaded_ge_1000": t_ours >= 1000,
            }
        else:
            targets = {"threaded_ours_ge_60pct_of_raw": t_ours >= 0.6 * t_raw}
        targets["no_violations"] = result["violations"] == 0 and failed == 0
        result["targets"] = targets
        result["targets_met"] = all(targets.values())
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        # Other load on the machine slows both sides alike, but it shows in the absolute figures.
        result["loadavg_1m"] = [load_at_start, round(os.getloadavg()[0], 2)]
        result["cpus"] = os.cpu_count()
    finally:
        if raw is not None:
            raw.close()
        if book is not None:
            book.close()
        backend.cleanup()
    print(json.dumps(result))
    return 0 if result["violations"] == 0 and result["failed_pairs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
