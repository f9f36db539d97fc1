"""Migration 0009 (usage retention): the purged totals and the purge state are added, the audit
trail accepts the purge's target and stays append-only through the change (SQLite rebuilds the
table), down and up again keep every audit event; once a purge has left totals or an event, going
below 0009 is refused and nothing is lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ledger import db
from ledger.amounts import credits
from ledger.schema import audit_events
from ledger.service import Ledger
from tests.conftest import PRICES, FakeClock, seed
from tests.test_analytics_world import write_call
from workbench.db.migrate import migrate_all
from workbench.retention.policy import Policy
from workbench.retention.purge import run


def audit_rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM audit_events ORDER BY id"))]


def insert_event(engine: sa.Engine, target_kind: str, now: object) -> None:
    with db.write_transaction(engine) as conn:
        conn.execute(
            audit_events.insert().values(
                created_at=now, action="test", target_kind=target_kind, target="t"
            )
        )


def test_0009_goes_down_and_up_keeping_the_audit_trail(db_url: str, clock: FakeClock) -> None:
    engine = db.create_engine(db_url)
    migrate_all(engine)
    book = Ledger(engine, clock=clock)
    seed(book, credits(5))  # makes an operator: an audit event
    events = audit_rows(engine)
    assert events

    db.migrate_down(engine, "0008")
    tables = set(sa.inspect(engine).get_table_names())
    assert not {"purged_usage_daily", "usage_purge_state"} & tables
    assert audit_rows(engine) == events
    with pytest.raises(DBAPIError, match="target_kind"):
        insert_event(engine, "retention", clock.now)
    with pytest.raises(DBAPIError, match="append-only"), db.write_transaction(engine) as conn:
        conn.execute(audit_events.delete())

    db.migrate(engine)
    assert audit_rows(engine) == events
    with engine.connect() as conn:
        state = conn.execute(sa.text("SELECT id, generation, purged_before FROM usage_purge_state"))
        assert [tuple(r) for r in state] == [(1, 0, None)]
    insert_event(engine, "retention", clock.now)
    with pytest.raises(DBAPIError, match="append-only"), db.write_transaction(engine) as conn:
        conn.execute(audit_events.update().values(reason="rewritten"))
    with pytest.raises(DBAPIError, match="target_kind"):
        insert_event(engine, "anything", clock.now)
    engine.dispose()


def test_0009_refuses_to_go_down_once_a_purge_kept_totals(
    db_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    engine = db.create_engine(db_url)
    migrate_all(engine)
    book = Ledger(engine, clock=clock)
    book.import_prices(PRICES)
    s = seed(book, credits(100))
    write_call(book, s.member_id, s.account_id, "old", "ok")
    later = clock.now + timedelta(days=10)
    done = run(engine, tmp_path, Policy(usage_days=1), later, dry_run=False)
    assert done.removed.usage is not None and done.removed.usage.rows == 1
    events = audit_rows(engine)

    with pytest.raises(RuntimeError, match="cannot go below revision 0009"):
        db.migrate_down(engine, "0008")
    assert db.current_revision(engine) == "0009"
    assert audit_rows(engine) == events
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(requests) FROM purged_usage_daily")).scalar() == 1
    engine.dispose()
