"""Grants: credits coming in, spent in a fixed order, and expired through journal entries.

Holds reserve against the account as a whole; grants are consumed only when a hold is captured (or
an admin takes credits back). Spend order:

1. grants already past their expiry (they survive only to back credits that were reserved before
   they expired),
2. then by ``priority`` (lower first: promo, plan, adjustment, paid by default),
3. then by expiry (soonest first, never-expiring last), then by age.

Expiry walks the same order to decide which credits back the currently held total; a past-expiry
grant loses what is not backing a hold through an ``expire`` entry, and keeps the rest until those
holds settle. So expiry never pushes available credits below zero and never takes credits that a
running call was promised.

A grant's remainder moves only through the journal, as the account's balance does: a trigger
(``entries_apply_to_grant``) adds each line's balance delta to the grant it names. So a new grant
is funded by its own line, and a capture, adjustment or expiry takes from a grant by appending a
line that names it; ``remaining >= 0`` refuses a line that would overdraw it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import journal
from ledger.amounts import check_amount, credits_text, request_identity
from ledger.clock import check_when
from ledger.errors import InvalidInput, NotFound
from ledger.journal import Entry
from ledger.schema import GRANT_KINDS, accounts, grants

DEFAULT_PRIORITY = {"promo": 10, "plan": 20, "adjustment": 30, "paid": 40}


@dataclass(frozen=True)
class GrantRow:
    id: int
    remaining: int
    priority: int
    expires_at: datetime | None


def spend_order(rows: Iterable[GrantRow], now: datetime) -> list[GrantRow]:
    def key(g: GrantRow) -> tuple[int, int, int, datetime, int]:
        past_expiry = g.expires_at is not None and g.expires_at <= now
        never = g.expires_at is None
        return (0 if past_expiry else 1, g.priority, int(never), g.expires_at or now, g.id)

    return sorted(rows, key=key)


_OPEN = (
    sa.select(grants.c.id, grants.c.remaining, grants.c.priority, grants.c.expires_at)
    .where(grants.c.account_id == sa.bindparam("account_id"), grants.c.remaining > 0)
    .with_for_update()
)


def open_grants(conn: Connection, account_id: int, now: datetime) -> list[GrantRow]:
    rows = conn.execute(_OPEN, {"account_id": account_id})
    return spend_order((GrantRow(r.id, r.remaining, r.priority, r.expires_at) for r in rows), now)


@dataclass(frozen=True)
class Grant:
    """One grant as it stands (the Credit admin's list of grants, voiding one)."""

    id: int
    account_id: int
    kind: str
    amount: int
    remaining: int
    priority: int
    expires_at: datetime | None
    actor_user_id: int | None
    reason: str | None
    created_at: datetime
    # The outside payment this grant credited (``ledger.payments``), if any.
    reference: str | None = None


def read(conn: Connection, grant_id: int) -> Grant:
    row = conn.execute(sa.select(grants).where(grants.c.id == grant_id)).first()
    if row is None:
        raise NotFound(f"no grant with id {grant_id!r}")
    return Grant(**row._mapping)


def of_account(conn: Connection, account_id: int, *, open_only: bool = True) -> list[Grant]:
    """An account's grants, newest first (only those with credits left unless ``open_only`` is
    False)."""
    query = sa.select(grants).where(grants.c.account_id == account_id)
    if open_only:
        query = query.where(grants.c.remaining > 0)
    return [Grant(**row._mapping) for row in conn.execute(query.order_by(grants.c.id.desc()))]


def check_terms(
    amount: object, kind: object, expires_at: datetime | None, priority: object
) -> dict[str, Any]:
    """A new grant's terms checked before anything is read (bad input writes nothing), as they
    enter its request's identity."""
    check_amount(amount)
    check_kind(kind)
    check_when(expires_at, "expires_at")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        raise InvalidInput(f"priority must be an integer, got {priority!r:.40}")
    assert isinstance(amount, int)
    return {
        "amount": request_identity(amount),
        "kind": kind,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "priority": priority,
    }


def refuse_past_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(f"expires_at {expires_at.isoformat()} is already in the past")


def check_kind(kind: object) -> str:
    if kind not in GRANT_KINDS:
        raise InvalidInput(f"grant kind must be one of {', '.join(GRANT_KINDS)}; got {kind!r}")
    assert isinstance(kind, str)
    return kind


def create(
    conn: Connection,
    account_id: int,
    amount: int,
    kind: str,
    now: datetime,
    *,
    expires_at: datetime | None = None,
    priority: int | None = None,
    actor_user_id: int | None = None,
    reason: str | None = None,
    entry_kind: str = "grant",
    reference: str | None = None,
) -> int:
    """Insert a grant and its journal entry, and repay what the account owes from it first;
    the caller holds the account lock."""
    grant_id: int = conn.execute(
        grants.insert()
        .values(
            account_id=account_id,
            kind=kind,
            amount=amount,
            # Funded by its journal line below (trigger ``entries_apply_to_grant``).
            remaining=0,
            priority=DEFAULT_PRIORITY[kind] if priority is None else priority,
            expires_at=expires_at,
            actor_user_id=actor_user_id,
            reason=reason,
            created_at=now,
            reference=reference,
        )
        .returning(grants.c.id)
    ).scalar_one()
    funding = Entry(
        account_id,
        entry_kind,
        balance_delta=amount,
        grant_id=grant_id,
        actor_user_id=actor_user_id,
        reason=reason,
        reference=reference,
    )
    journal.append(conn, [funding, *_repayment(conn, account_id, grant_id, amount, reference)], now)
    if expires_at is not None:
        conn.execute(
            accounts.update()
            .where(accounts.c.id == account_id)
            .where(
                sa.or_(
                    accounts.c.next_grant_expiry.is_(None),
                    accounts.c.next_grant_expiry > expires_at,
                )
            )
            .values(next_grant_expiry=expires_at)
        )
    return grant_id


def _repayment(
    conn: Connection, account_id: int, grant_id: int, amount: int, reference: str | None
) -> list[Entry]:
    """The line by which a new grant repays the account's debt (credits a refund took back after
    they were spent): new credits settle what is owed before anyone can spend them."""
    debt = conn.execute(sa.select(accounts.c.debt).where(accounts.c.id == account_id)).scalar_one()
    repay = min(int(debt), amount)
    if repay == 0:
        return []
    return [
        Entry(
            account_id,
            "adjustment",
            balance_delta=-repay,
            debt_delta=-repay,
            grant_id=grant_id,
            reason=f"repays {credits_text(repay, exact=True)} owed after a refund",
            reference=reference,
        )
    ]


def consume(
    conn: Connection,
    account_id: int,
    amount: int,
    now: datetime,
    entry: Entry,
    known_open: Iterable[GrantRow] | None = None,
    *,
    first: int | None = None,
) -> list[Entry]:
    """The journal lines that take ``amount`` from the account's grants in spend order (grant
    ``first``, if given, before all others: a refund draws on its own payment's grant).

    ``entry`` is the template of the lines (kind, hold, held delta on the first line...); each
    line gets the grant it draws on and its share of ``amount`` as a negative balance delta.
    Nothing is taken until the caller appends the lines (the journal's trigger moves the grants'
    remainders), together with any others of the same operation, in one statement.
    ``known_open``: the account's open grants as read in this transaction under the account lock,
    if the caller has them (else they are read here).
    """
    left = amount
    lines: list[Entry] = []
    ordered = (
        open_grants(conn, account_id, now) if known_open is None else spend_order(known_open, now)
    )
    if first is not None:
        ordered.sort(key=lambda g: g.id != first)  # stable: the rest keep the spend order
    for grant in ordered:
        if left == 0:
            break
        take = min(grant.remaining, left)
        left -= take
        lines.append(
            Entry(
                account_id,
                entry.kind,
                balance_delta=-take,
                held_delta=entry.held_delta if not lines else 0,
                hold_id=entry.hold_id,
                grant_id=grant.id,
                operation_type=entry.operation_type,
                actor_user_id=entry.actor_user_id,
                reason=entry.reason,
                reference=entry.reference,
            )
        )
    # The grants' remainders sum to the balance (verify checks it), and callers only consume
    # what the balance covers; running short here means the books are already wrong.
    if left:
        # Not an assert: it must hold under ``python -O`` too; the transaction rolls back.
        raise RuntimeError(
            f"account {account_id}: grants are {credits_text(left, exact=True)} short of the "
            "balance"
        )
    return lines


def backing_shares(ordered: Sequence[GrantRow], held: int) -> dict[int, int]:
    """How much of each grant backs the currently held total, walking the spend order."""
    shares: dict[int, int] = {}
    left = held
    for grant in ordered:
        share = min(grant.remaining, left)
        shares[grant.id] = share
        left -= share
    return shares


def expire_due(conn: Connection, account_id: int, held: int, now: datetime) -> int:
    """Expire past-expiry credits that back no hold; returns how many (micro-credits) expired.

    The caller holds the account lock. Also recomputes the account's ``next_grant_expiry``.
    """
    ordered = open_grants(conn, account_id, now)
    shares = backing_shares(ordered, held)
    expired = 0
    lines: list[Entry] = []
    next_expiry: datetime | None = None
    for grant in ordered:
        surplus = grant.remaining - shares[grant.id]
        if grant.expires_at is not None and grant.expires_at <= now and surplus > 0:
            lines.append(Entry(account_id, "expire", balance_delta=-surplus, grant_id=grant.id))
            expired += surplus
            if shares[grant.id] == 0:
                continue
        if grant.expires_at is not None and (next_expiry is None or grant.expires_at < next_expiry):
            next_expiry = grant.expires_at
    if lines:
        journal.append(conn, lines, now)
    conn.execute(
        accounts.update().where(accounts.c.id == account_id).values(next_grant_expiry=next_expiry)
    )
    return expired
