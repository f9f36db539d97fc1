"""The journal: append-only entries whose sums are the accounts' cached balance and held total.

Entries are only ever inserted (the database refuses UPDATE and DELETE), and an AFTER INSERT
trigger applies each entry's deltas to its account, so there is no code path that changes a
balance without writing the entry that explains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.schema import entries

_INSERT = entries.insert()


@dataclass(frozen=True)
class Entry:
    """One journal line. ``balance_delta`` moves owned credits, ``held_delta`` reserved ones."""

    account_id: int
    kind: str
    balance_delta: int = 0
    held_delta: int = 0
    hold_id: int | None = None
    grant_id: int | None = None
    operation_type: str | None = None
    actor_user_id: int | None = None
    reason: str | None = None
    # Credits owed (``accounts.debt``), and the outside object (a Stripe payment) the line is for.
    debt_delta: int = 0
    reference: str | None = None


def append(conn: Connection, lines: Sequence[Entry], now: datetime) -> None:
    if not lines:
        return
    # One statement for all the lines: executemany on SQLite, a multi-row INSERT (SQLAlchemy's
    # "insertmanyvalues") on PostgreSQL.
    conn.execute(
        _INSERT,
        [
            {
                "account_id": e.account_id,
                "kind": e.kind,
                "balance_delta": e.balance_delta,
                "held_delta": e.held_delta,
                "hold_id": e.hold_id,
                "grant_id": e.grant_id,
                "operation_type": e.operation_type,
                "actor_user_id": e.actor_user_id,
                "reason": e.reason,
                "debt_delta": e.debt_delta,
                "reference": e.reference,
                "created_at": now,
            }
            for e in lines
        ],
    )


@dataclass(frozen=True)
class JournalLine:
    id: int
    account_id: int
    kind: str
    balance_delta: int
    held_delta: int
    hold_id: int | None
    grant_id: int | None
    operation_type: str | None
    actor_user_id: int | None
    reason: str | None
    created_at: datetime
    debt_delta: int = 0
    reference: str | None = None


def history(
    conn: Connection,
    account_id: int,
    *,
    kinds: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[JournalLine]:
    """An account's entries, newest first; page with ``before_id`` (the last id of a page)."""
    query = sa.select(entries).where(entries.c.account_id == account_id)
    if kinds:
        query = query.where(entries.c.kind.in_(list(kinds)))
    if since is not None:
        query = query.where(entries.c.created_at >= since)
    if until is not None:
        query = query.where(entries.c.created_at < until)
    if before_id is not None:
        before = sa.select(entries.c.created_at).where(entries.c.id == before_id).scalar_subquery()
        query = query.where(
            sa.tuple_(entries.c.created_at, entries.c.id) < sa.tuple_(before, sa.literal(before_id))
        )
    # Newest first by (created_at, id): the (account_id, created_at) index hands the lines over in
    # that order (SQLite ends every index entry with the rowid, the id), so a page reads a page
    # instead of sorting every line of the account.
    query = query.order_by(entries.c.created_at.desc(), entries.c.id.desc())
    query = query.limit(max(1, min(limit, 1000)))
    return [JournalLine(**row._mapping) for row in conn.execute(query)]
