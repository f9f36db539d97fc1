"""Accounts: the cached balance and held total, read and locked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import UnknownAccount
from ledger.schema import accounts


@dataclass(frozen=True)
class Balance:
    account_id: int
    balance: int
    held: int
    next_grant_expiry: datetime | None = None
    # Credits owed after a refund of credits already spent (``ledger.payments``).
    debt: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def net(self) -> int:
        """What the account has once its debt is counted: below zero while it owes."""
        return self.balance - self.debt


_COLUMNS = (
    accounts.c.id,
    accounts.c.balance,
    accounts.c.held,
    accounts.c.next_grant_expiry,
    accounts.c.debt,
)
_READ = sa.select(*_COLUMNS).where(accounts.c.id == sa.bindparam("account_id"))
_LOCK = _READ.with_for_update()


def read(conn: Connection, account_id: int) -> Balance:
    row = conn.execute(_READ, {"account_id": account_id}).first()
    if row is None:
        raise UnknownAccount(f"no account with id {account_id!r}", account_id=account_id)
    return Balance(row.id, row.balance, row.held, row.next_grant_expiry, row.debt)


def lock(conn: Connection, account_id: int) -> Balance:
    """Read the account and hold its row lock until the transaction ends.

    Every write path takes this lock before touching the account's holds or grants (the fixed
    lock order: account, then hold, then grants). SQLite's BEGIN IMMEDIATE already holds the
    database's single write lock, so there the statement is a plain read.
    """
    row = conn.execute(_LOCK, {"account_id": account_id}).first()
    if row is None:
        raise UnknownAccount(f"no account with id {account_id!r}", account_id=account_id)
    return Balance(row.id, row.balance, row.held, row.next_grant_expiry, row.debt)


def due_for_grant_expiry(conn: Connection, now: datetime) -> list[int]:
    query = (
        sa.select(accounts.c.id).where(accounts.c.next_grant_expiry <= now).order_by(accounts.c.id)
    )
    return list(conn.execute(query).scalars())


def workspace_of(conn: Connection, account_id: int) -> int:
    row = conn.execute(
        sa.select(accounts.c.workspace_id).where(accounts.c.id == account_id)
    ).first()
    if row is None:
        raise UnknownAccount(f"no account with id {account_id!r}", account_id=account_id)
    workspace_id: int = row.workspace_id
    return workspace_id
