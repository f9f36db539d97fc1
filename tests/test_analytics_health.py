"""The analytics health figures, read from the ledger database and checked against it: open holds
and those past their TTL, calls on unpriced models (must read 0), and drift between the journal's
captures and the usage rows (must read 0) — each scoped, and each catching the fault it exists
for when one is planted."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ledger import db
from ledger.amounts import credits
from ledger.schema import usage_records
from ledger.service import Ledger
from ledger.usage import CallUsage
from tests.conftest import FakeClock, Seed, reserve, seed
from workbench.analytics.filters import Filters
from workbench.analytics.health import health
from workbench.analytics.scope import scope_for

OK = CallUsage(provider="demo", status="ok", input_tokens=10, output_tokens=20, latency_ms=30)


def _filters(clock: FakeClock) -> Filters:
    return Filters(start=clock.now - timedelta(days=1), end=clock.now + timedelta(days=1))


def _calls(book: Ledger, s: Seed, clock: FakeClock) -> int:
    """Two captured calls and one call left pending past its TTL; returns that hold's id."""
    for n in range(2):
        hold_id = reserve(book, s, credits(2), f"call-{n}")
        book.capture(hold_id, credits("0.5"), key=f"cap-{n}", usage=OK)
    stuck = reserve(book, s, credits(1), "stuck", ttl=timedelta(minutes=1))
    clock.advance(minutes=5)
    return stuck


def test_clean_books_read_zero_where_they_must(ledger: Ledger, clock: FakeClock) -> None:
    s = seed(ledger, credits(100))
    stuck = _calls(ledger, s, clock)
    found = health(ledger, scope_for(ledger, s.operator_id, None), _filters(clock), clock.now)
    assert found is not None
    assert found.open_holds == 1
    assert [h.id for h in found.past_ttl] == [stuck]
    assert (found.unpriced_calls, found.drift, found.drift_total) == ([], [], 0)


def test_scope_an_admin_sees_their_workspaces_and_a_member_nothing(
    ledger: Ledger, clock: FakeClock
) -> None:
    acme = seed(ledger, credits(100), slug="acme")
    globex = seed(ledger, credits(100), slug="globex")
    _calls(ledger, globex, clock)
    admin_view = health(
        ledger, scope_for(ledger, acme.admin_id, acme.workspace_id), _filters(clock), clock.now
    )
    assert admin_view is not None
    assert (admin_view.open_holds, admin_view.past_ttl) == (0, [])  # globex's are not theirs
    member_view = health(
        ledger, scope_for(ledger, globex.member_id, globex.workspace_id), _filters(clock), clock.now
    )
    assert member_view is None


def test_a_planted_unpriced_call_and_drift_are_found(ledger: Ledger, clock: FakeClock) -> None:
    s = seed(ledger, credits(100))
    _calls(ledger, s, clock)
    with db.read_only_connection(ledger.engine) as conn:
        row = conn.execute(sa.select(usage_records).order_by(usage_records.c.id)).first()
    assert row is not None
    planted = {
        **row._mapping,
        "hold_id": None,
        "credits": credits("0.25"),
        "idempotency_key": "planted",
        "created_at": clock.now,
    }
    del planted["id"]
    with db.write_transaction(ledger.engine) as conn:
        # A usage row charging credits the journal never captured: drift.
        conn.execute(usage_records.insert().values(**planted))
        # A call that had a hold but no price version: an unpriced call.
        conn.execute(
            usage_records.update().where(usage_records.c.id == row.id).values(price_version_id=None)
        )
    found = health(ledger, scope_for(ledger, s.operator_id, None), _filters(clock), clock.now)
    assert found is not None
    assert [c.id for c in found.unpriced_calls] == [row.id]
    assert [(d.workspace, d.difference) for d in found.drift] == [("acme", -credits("0.25"))]
    assert found.drift_total == -credits("0.25")
