"""Revision 0003 converts a populated ledger from whole credits to micro-credits in place.

The database is built at revision 0002 and filled with plain INSERTs of a realistic state (the
code of that era is gone): grants, holds pending, captured and released with their journal lines
(through the journal's own triggers), usage rows, a capped member, prices, and stored idempotency
outcomes: a grant, an adjustment and refusals. After the upgrade every amount is its old value
times 1,000,000, the books verify, the journal is append-only again, and replayed keys answer in
the new unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ledger import db, errors
from ledger.amounts import credits
from ledger.idempotency import request_hash
from ledger.schema import (
    UTCDateTime,
    accounts,
    entries,
    grants,
    holds,
    idempotency_keys,
    memberships,
    usage_records,
    users,
    workspaces,
)
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.test_migrations import head

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# The price tables as revision 0002 named them.
OLD_PRICES = sa.table(
    "price_versions",
    sa.column("id", sa.Integer),
    sa.column("model", sa.String),
    sa.column("version", sa.Integer),
    sa.column("feature_key", sa.String),
    sa.column("active", sa.Boolean),
    sa.column("input_credits_per_mtok", sa.BigInteger),
    sa.column("output_credits_per_mtok", sa.BigInteger),
    sa.column("effective_at", UTCDateTime),
)
OLD_IMAGE_PRICES = sa.table(
    "image_prices",
    sa.column("price_version_id", sa.Integer),
    sa.column("size", sa.String),
    sa.column("quality", sa.String),
    sa.column("credits_per_image", sa.BigInteger),
)

# Money columns by table (after 0003), and the columns that identify a row.
MONEY = {
    "accounts": (("id",), ("balance", "held")),
    "memberships": (("id",), ("monthly_cap",)),
    "grants": (("id",), ("amount", "remaining")),
    "holds": (("id",), ("amount", "captured")),
    "entries": (("id",), ("balance_delta", "held_delta")),
    "usage_records": (("id",), ("credits",)),
    "price_versions": (("id",), ("input_micros_per_mtok", "output_micros_per_mtok")),
    "image_prices": (("price_version_id", "size", "quality"), ("micros_per_image",)),
}
RENAMED = {
    "input_micros_per_mtok": "input_credits_per_mtok",
    "output_micros_per_mtok": "output_credits_per_mtok",
    "micros_per_image": "credits_per_image",
}

GRANT_PARAMS = {
    "account_id": 1,
    "amount": 1000,
    "kind": "paid",
    "expires_at": None,
    "priority": None,
    "actor_user_id": None,
    "reason": None,
}
ADJUST_PARAMS = {"account_id": 1, "delta": 100, "actor": 1, "reason": "goodwill"}
RESERVE_PARAMS = {
    "account_id": 1,
    "user_id": 2,
    "feature_key": "ai_text_chat",
    "model": "demo/chat",
    "amount": 5000,
    "ttl": 900.0,
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.create_engine(db_url)
    db.migrate(engine, "0002")
    yield engine
    engine.dispose()


SERIAL = ("workspaces", "users", "memberships", "accounts", "price_versions")


def _rows(base: dict[str, Any], *changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows with the same columns (an executemany needs them all in every row)."""
    return [{**base, **change} for change in changes]


def populate_at_0002(conn: Connection) -> None:
    """A workspace that bought credits, spent some, has a call in flight and refused one."""
    conn.execute(workspaces.insert().values(id=1, slug="acme", name="Acme", created_at=T0))
    conn.execute(
        users.insert(),
        _rows(
            {"created_at": T0},
            {"id": 1, "username": "boss", "display_name": "Boss"},
            {"id": 2, "username": "ann", "display_name": "Ann"},
        ),
    )
    conn.execute(
        memberships.insert(),
        _rows(
            {"workspace_id": 1, "created_at": T0},
            {"id": 1, "user_id": 1, "role": "admin", "monthly_cap": None},
            {"id": 2, "user_id": 2, "role": "member", "monthly_cap": 500},
        ),
    )
    conn.execute(accounts.insert().values(id=1, workspace_id=1, name="main", created_at=T0))
    conn.execute(
        OLD_PRICES.insert(),
        _rows(
            {"version": 1, "active": True, "effective_at": T0},
            {
                "id": 1,
                "model": "demo/chat",
                "feature_key": "ai_text_chat",
                "input_credits_per_mtok": 100,
                "output_credits_per_mtok": 400,
            },
            {
                "id": 2,
                "model": "demo/images",
                "feature_key": "ai_image_generation",
                "input_credits_per_mtok": None,
                "output_credits_per_mtok": None,
            },
        ),
    )
    conn.execute(
        OLD_IMAGE_PRICES.insert(),
        _rows(
            {"price_version_id": 2},
            {"size": "256x256", "quality": "standard", "credits_per_image": 5},
            {"size": "1024x1024", "quality": "hd", "credits_per_image": 40},
        ),
    )
    expires = T0 + timedelta(days=30)
    conn.execute(
        grants.insert(),
        _rows(
            {"account_id": 1, "created_at": T0, "expires_at": None, "actor_user_id": None}
            | {"reason": None},
            {"id": 1, "kind": "paid", "amount": 1000, "remaining": 1000, "priority": 40},
            {"id": 2, "kind": "promo", "amount": 200, "remaining": 170, "priority": 10}
            | {"expires_at": expires},
            {"id": 3, "kind": "adjustment", "amount": 100, "remaining": 100, "priority": 30}
            | {"actor_user_id": 1, "reason": "goodwill"},
        ),
    )
    conn.execute(accounts.update().values(next_grant_expiry=expires))
    line = {
        "account_id": 1,
        "balance_delta": 0,
        "held_delta": 0,
        "hold_id": None,
        "grant_id": None,
        "operation_type": None,
        "actor_user_id": None,
        "reason": None,
        "created_at": T0,
    }
    # Each INSERT applies its deltas to the account (trigger entries_apply).
    conn.execute(
        entries.insert(),
        _rows(
            line,
            {"kind": "grant", "balance_delta": 1000, "grant_id": 1},
            {"kind": "grant", "balance_delta": 200, "grant_id": 2},
            {"kind": "adjustment", "balance_delta": 100, "grant_id": 3, "actor_user_id": 1}
            | {"reason": "goodwill"},
        ),
    )
    failed = "provider error (APIError): nothing charged"
    # Each INSERT writes the hold's own journal line (trigger holds_journal).
    conn.execute(
        holds.insert(),
        _rows(
            {
                "account_id": 1,
                "user_id": 2,
                "operation_type": "text_chat",
                "feature_key": "ai_text_chat",
                "model": "demo/chat",
                "price_version_id": 1,
                "created_at": T0,
                "expires_at": T0 + timedelta(minutes=15),
                "captured": None,
                "release_reason": None,
                "resolved_at": T0,
            },
            {"id": 1, "amount": 50, "captured": 30, "status": "captured"},
            {"id": 2, "amount": 40, "status": "pending", "resolved_at": None},
            {"id": 3, "amount": 25, "status": "released", "release_reason": failed},
        ),
    )
    conn.execute(
        entries.insert(),
        _rows(
            line | {"operation_type": "text_chat"},
            {"kind": "capture", "balance_delta": -30, "held_delta": -30, "hold_id": 1}
            | {"grant_id": 2},
            {"kind": "release", "held_delta": -20, "hold_id": 1}
            | {"reason": "unused part of the hold"},
            {"kind": "release", "held_delta": -25, "hold_id": 3, "reason": failed},
        ),
    )
    conn.execute(
        usage_records.insert(),
        _rows(
            {
                "created_at": T0,
                "user_id": 2,
                "workspace_id": 1,
                "account_id": 1,
                "feature_key": "ai_text_chat",
                "operation_type": "text_chat",
                "model": "demo/chat",
                "provider": "demo",
                "price_version_id": 1,
                "input_tokens": 0,
                "output_tokens": 0,
                "usd_cost_nanos": None,
                "error_type": None,
            },
            {"id": 1, "hold_id": 1, "status": "ok", "credits": 30, "input_tokens": 100_000}
            | {"output_tokens": 50_000, "usd_cost_nanos": 25_000_000},
            {"id": 2, "hold_id": 3, "status": "error", "credits": 0, "error_type": "APIError"},
            {"id": 3, "hold_id": None, "status": "refused", "credits": 0}
            | {"error_type": "InsufficientCredits"},
        ),
    )
    refusal = {
        "type": "InsufficientCredits",
        "message": "not enough credits: 1,230 available, 5,000 needed",
        "fields": {"account_id": 1, "available": 1230, "needed": 5000},
    }
    capped = {
        "type": "CapExceeded",
        "message": "monthly spending cap reached: 30 of 500 credits used this month, 480 more "
        "needed",
        "fields": {"account_id": 1, "user_id": 2, "cap": 500, "used": 30, "needed": 480},
    }
    over = {
        "type": "CaptureExceedsHold",
        "message": "cannot capture 41 credits on hold 2: only 40 held",
        "fields": {"hold_id": 2, "held": 40, "requested": 41},
    }
    granted = {"grant_id": 1, "account_id": 1, "amount": 1000, "kind": "paid", "expires_at": None}
    conn.execute(
        idempotency_keys.insert(),
        _rows(
            {"created_at": T0},
            {"scope": "grant", "key": "seed-acme", "outcome": json.dumps({"ok": granted})}
            | {"request_hash": request_hash("grant", GRANT_PARAMS)},
            {"scope": "adjust", "key": "a1", "request_hash": request_hash("adjust", ADJUST_PARAMS)}
            | {"outcome": json.dumps({"ok": {"account_id": 1, "delta": 100, "grant_id": 3}})},
            {"scope": "reserve", "key": "r1", "request_hash": "x" * 64}
            | {"outcome": json.dumps({"ok": {"hold_id": 1}})},
            {"scope": "reserve", "key": "r-poor", "outcome": json.dumps({"error": refusal})}
            | {"request_hash": request_hash("reserve", RESERVE_PARAMS)},
            {"scope": "reserve", "key": "r-capped", "request_hash": "y" * 64}
            | {"outcome": json.dumps({"error": capped})},
            {"scope": "capture", "key": "c-over", "request_hash": "z" * 64}
            | {"outcome": json.dumps({"error": over})},
        ),
    )
    if conn.dialect.name == "postgresql":
        # Rows went in with their ids: move the id sequences past them, as real inserts would.
        for table in (*SERIAL, "grants", "holds", "entries", "usage_records"):
            _follow(conn, table)


def _follow(conn: Connection, table: str) -> None:
    conn.execute(
        sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}")
    )


Money = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]


def money(engine: Engine, *, before: bool = False) -> Money:
    """Every money value, by table and row."""
    found: Money = {}
    with engine.connect() as conn:
        for table, (keys, columns) in MONEY.items():
            names = [RENAMED.get(c, c) if before else c for c in columns]
            rows = conn.execute(
                sa.text(f"SELECT {', '.join(keys + tuple(names))} FROM {table}")
            ).all()
            found[table] = {tuple(row[: len(keys)]): tuple(row[len(keys) :]) for row in rows}
    return found


def outcomes(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(idempotency_keys)).all()
    return {(row.scope, row.key): json.loads(row.outcome) for row in rows}


def times_a_million(value: Any) -> Any:
    return None if value is None else value * 1_000_000


def test_upgrade_multiplies_every_amount_and_the_books_still_balance(engine: Engine) -> None:
    with db.write_transaction(engine) as conn:
        populate_at_0002(conn)
    # A consistent state to start from (in plain SQL: today's ``verify`` reads columns that later
    # revisions add).
    with engine.connect() as conn:
        sums = conn.execute(
            sa.text("SELECT SUM(balance_delta), SUM(held_delta) FROM entries WHERE account_id = 1")
        ).one()
    assert tuple(sums) == (1270, 40)
    old = money(engine, before=True)
    assert old["accounts"] == {(1,): (1270, 40)}

    db.migrate(engine)
    assert db.current_revision(engine) == head()
    new = money(engine)
    for table, rows in old.items():
        assert set(new[table]) == set(rows), table
        for row, values in rows.items():
            assert new[table][row] == tuple(times_a_million(v) for v in values), (table, row)
    assert new["accounts"] == {(1,): (credits(1270), credits(40))}
    assert new["usage_records"][(1,)] == (credits(30),)
    assert Ledger(engine).verify() == []

    stored = outcomes(engine)
    assert stored[("grant", "seed-acme")]["ok"]["amount"] == credits(1000)
    assert stored[("adjust", "a1")]["ok"]["delta"] == credits(100)
    assert stored[("reserve", "r1")] == {"ok": {"hold_id": 1}}
    poor = stored[("reserve", "r-poor")]["error"]
    assert poor["fields"] == {"account_id": 1, "available": credits(1230), "needed": credits(5000)}
    assert "1,230 available, 5,000 needed" in poor["message"]  # in credits, then and now
    capped = stored[("reserve", "r-capped")]["error"]["fields"]
    assert (capped["cap"], capped["used"], capped["needed"]) == (
        credits(500),
        credits(30),
        credits(480),
    )
    over = stored[("capture", "c-over")]["error"]["fields"]
    assert (over["held"], over["requested"]) == (credits(40), credits(41))

    with engine.connect() as conn:
        usd = conn.execute(sa.select(usage_records.c.usd_cost_nanos).where(usage_records.c.id == 1))
        assert usd.scalar_one() == 25_000_000  # dollars stay in nanos


def test_after_the_upgrade_the_ledger_works_in_micro_credits(
    engine: Engine, clock: FakeClock
) -> None:
    with db.write_transaction(engine) as conn:
        populate_at_0002(conn)
    db.migrate(engine)
    clock.now = T0 + timedelta(minutes=1)
    book = Ledger(engine, clock=clock)

    # Replayed keys answer in the new unit (their request hashes were made in credits).
    grant = book.grant(1, credits(1000), kind="paid", key="seed-acme")
    assert (grant.replayed, grant.amount, grant.grant_id) == (True, credits(1000), 1)
    adjustment = book.adjust(1, credits(100), actor_user_id=1, reason="goodwill", key="a1")
    assert (adjustment.replayed, adjustment.delta) == (True, credits(100))
    with pytest.raises(errors.InsufficientCredits) as refused:
        book.reserve(
            1,
            user_id=2,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=credits(5000),
            key="r-poor",
        )
    assert refused.value.replayed
    assert (refused.value.available, refused.value.needed) == (credits(1230), credits(5000))
    assert book.balance(1).balance == credits(1270)

    # Prices in micro-credits per million tokens and per image.
    chat = book.price("demo/chat")
    assert (chat.input_per_mtok, chat.output_per_mtok) == (credits(100), credits(400))
    assert book.price("demo/images").images[("1024x1024", "hd")] == credits(40)

    # The pending hold captures in the new unit; fractions of a credit are fine now.
    captured = book.capture(2, 234_000, key="c2").hold
    assert captured.captured == credits("0.234")
    balance = book.balance(1)
    assert (balance.balance, balance.held) == (credits("1269.766"), 0)
    assert book.month_spend(1, 2) == credits("30.234")
    # The journal's triggers are back: new lines apply to the account, old ones stay put.
    book.grant(1, credits("0.5"), kind="promo", key="g-half")
    assert book.balance(1).balance == credits("1270.266")
    with pytest.raises(DBAPIError, match="append-only"), db.write_transaction(engine) as conn:
        conn.execute(entries.update().values(balance_delta=0))
    assert book.verify() == []


def test_downgrade_divides_back_and_refuses_fractions(engine: Engine, clock: FakeClock) -> None:
    with db.write_transaction(engine) as conn:
        populate_at_0002(conn)
    old, old_outcomes = money(engine, before=True), outcomes(engine)
    db.migrate(engine)
    db.migrate_down(engine, "0002")
    assert db.current_revision(engine) == "0002"
    assert money(engine, before=True) == old
    assert outcomes(engine) == old_outcomes

    db.migrate(engine)
    clock.now = T0 + timedelta(minutes=1)
    Ledger(engine, clock=clock).capture(2, credits("0.234"), key="c2")
    converted = money(engine)
    with pytest.raises(RuntimeError, match="not a whole credit"):
        db.migrate_down(engine, "0002")
    assert db.current_revision(engine) == head()
    assert money(engine) == converted
    assert Ledger(engine).verify() == []


def test_an_empty_database_upgrades_and_downgrades(engine: Engine) -> None:
    db.migrate(engine)
    db.migrate_down(engine, "0002")
    db.migrate(engine)
    assert db.current_revision(engine) == head()
