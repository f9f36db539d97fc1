"""Two-phase spend: a hold reserves credits before a provider call; it then ends exactly once.

pending ──capture (≤ held; the rest released)──▶ captured
        ├─release (with a reason)──────────────▶ released
        └─expire (TTL passed, by the sweeper)──▶ expired

Every transition is a conditional ``UPDATE … WHERE status = 'pending'``: whichever of two racing
resolutions commits first wins, the other sees no row and gets a typed error. A hold touched after
its expiry time is expired on the spot (the caller gets ``HoldExpired``), so a capture can never
land on credits the sweeper is entitled to release.

Each operation starts with one SELECT that gathers everything it decides on (account with its row
lock, membership and cap, current price, the idempotency key's stored outcome): reserve and capture
are the hot path, and each statement is a large part of their cost. For the same reason a new
hold's ``hold`` journal line is written by a database trigger on ``holds``. The statements are
built once, at import, with bind parameters, so SQLAlchemy compiles each once (its compiled cache)
and every execution is an ordinary ``Connection.execute``.

Functions here take a connection inside a write transaction; ``ledger.service`` opens it and
records the idempotency key with the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import accounts, grants, journal, pricing
from ledger.accounts import Balance
from ledger.amounts import credits_text, format_credits
from ledger.clock import month_start
from ledger.errors import (
    CapExceeded,
    CaptureExceedsHold,
    HoldAlreadyCaptured,
    HoldExpired,
    HoldNotPending,
    HoldReleased,
    InsufficientCredits,
    NotAMember,
    UnknownAccount,
    UnknownHold,
    UserDeactivated,
)
from ledger.grants import GrantRow
from ledger.idempotency import KeyCheck, with_stored_outcome
from ledger.journal import Entry
from ledger.schema import accounts as accounts_table
from ledger.schema import grants as grants_table
from ledger.schema import holds, memberships, price_versions, users
from ledger.statuses import HoldStatus


@dataclass(frozen=True)
class Hold:
    id: int
    account_id: int
    user_id: int
    operation_type: str
    feature_key: str
    model: str
    price_version_id: int
    amount: int
    captured: int | None
    status: str
    release_reason: str | None
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None

    def resolved(
        self, status: str, now: datetime, captured: int | None = None, reason: str | None = None
    ) -> Hold:
        """This hold as it stands after ending ``status`` at ``now``."""
        return Hold(
            self.id,
            self.account_id,
            self.user_id,
            self.operation_type,
            self.feature_key,
            self.model,
            self.price_version_id,
            self.amount,
            captured,
            status,
            reason,
            self.created_at,
            self.expires_at,
            now,
        )

    @classmethod
    def from_row(cls, row: Any) -> Hold:
        """From a row that starts with the ``holds`` columns, in table order (a test checks)."""
        return cls(*row[:_HOLD_FIELDS])


_HOLD_FIELDS = len(fields(Hold))

_LATEST_PRICE_ID = (
    sa.select(price_versions.c.id)
    .where(price_versions.c.model == sa.bindparam("model"))
    .order_by(price_versions.c.version.desc())
    .limit(1)
    .scalar_subquery()
)

_RESERVE_FACTS = with_stored_outcome(
    sa.select(
        accounts_table.c.id,
        accounts_table.c.balance,
        accounts_table.c.held,
        accounts_table.c.next_grant_expiry,
        memberships.c.user_id.label("member_id"),
        memberships.c.monthly_cap,
        users.c.is_active.label("member_active"),
        price_versions.c.id.label("price_version_id"),
        price_versions.c.feature_key.label("price_feature_key"),
        price_versions.c.active.label("price_active"),
    )
    .select_from(accounts_table)
    .outerjoin(
        memberships,
        sa.and_(
            memberships.c.workspace_id == accounts_table.c.workspace_id,
            memberships.c.user_id == sa.bindparam("user_id"),
        ),
    )
    .outerjoin(users, users.c.id == memberships.c.user_id)
    .outerjoin(price_versions, price_versions.c.id == _LATEST_PRICE_ID)
    .where(accounts_table.c.id == sa.bindparam("account_id"))
    .with_for_update(of=accounts_table),
    "reserve",
)


def _hold_facts(scope: str) -> sa.Select[Any]:
    return with_stored_outcome(
        sa.select(
            holds,
            accounts_table.c.balance,
            accounts_table.c.held,
            accounts_table.c.next_grant_expiry,
        )
        .select_from(holds.join(accounts_table, accounts_table.c.id == holds.c.account_id))
        .where(holds.c.id == sa.bindparam("hold_id"))
        .with_for_update(of=accounts_table),
        scope,
    )


_CAPTURE_FACTS = _hold_facts("capture")
_RELEASE_FACTS = _hold_facts("release")

# On SQLite a capture's facts also bring the account's open grants, one row per grant (none: one
# row with NULLs): BEGIN IMMEDIATE has locked the whole database, so they are current. Not on
# PostgreSQL: there a statement that waited for the account's row lock sees the other tables as
# they were when it started (READ COMMITTED re-reads only the locked row), so the grants are read
# by a statement of their own once the lock is held.
_CAPTURE_FACTS_WITH_GRANTS = _CAPTURE_FACTS.add_columns(
    grants_table.c.id.label("grant_id"),
    grants_table.c.remaining.label("grant_remaining"),
    grants_table.c.priority.label("grant_priority"),
    grants_table.c.expires_at.label("grant_expires_at"),
).outerjoin(
    grants_table,
    sa.and_(grants_table.c.account_id == holds.c.account_id, grants_table.c.remaining > 0),
)

_MONTH_SPEND = sa.select(
    sa.func.coalesce(
        sa.func.sum(
            sa.case(
                (holds.c.status == HoldStatus.PENDING, holds.c.amount),
                (holds.c.status == HoldStatus.CAPTURED, holds.c.captured),
                else_=0,
            )
        ),
        0,
    )
).where(
    holds.c.account_id == sa.bindparam("account_id"),
    holds.c.user_id == sa.bindparam("user_id"),
    holds.c.created_at >= sa.bindparam("since"),
    holds.c.status.in_((HoldStatus.PENDING, HoldStatus.CAPTURED)),
)

# The new id comes back as ``inserted_primary_key``: the cursor's lastrowid on SQLite, RETURNING on
# PostgreSQL.
_INSERT = holds.insert()
# A new hold's columns that are not NULL (the others are left out of the INSERT: fewer binds).
_INSERT_COLUMNS = tuple(
    c.name
    for c in holds.columns
    if c.name not in ("id", "captured", "release_reason", "resolved_at")
)
_READ = sa.select(holds).where(holds.c.id == sa.bindparam("hold_id"))
_RESOLVE = (
    holds.update()
    .where(holds.c.id == sa.bindparam("hold_id"), holds.c.status == HoldStatus.PENDING)
    .values(
        status=sa.bindparam("new_status"),
        captured=sa.bindparam("captured_amount"),
        release_reason=sa.bindparam("reason"),
        resolved_at=sa.bindparam("now"),
    )
)


def month_spend(conn: Connection, account_id: int, user_id: int, now: datetime) -> int:
    """Micro-credits a member has captured or holds on an account this calendar month (UTC)."""
    params = {"account_id": account_id, "user_id": user_id, "since": month_start(now)}
    return int(conn.execute(_MONTH_SPEND, params).scalar_one())


def read(conn: Connection, hold_id: int) -> Hold:
    row = conn.execute(_READ, {"hold_id": hold_id}).first()
    if row is None:
        raise UnknownHold(f"no hold with id {hold_id!r}", hold_id=hold_id)
    return Hold.from_row(row)


def _settle_due_grants(conn: Connection, account: Balance, now: datetime) -> Balance:
    if account.next_grant_expiry is None or account.next_grant_expiry > now:
        return account
    grants.expire_due(conn, account.account_id, account.held, now)
    return accounts.read(conn, account.account_id)


def reserve(
    conn: Connection,
    check: KeyCheck,
    *,
    account_id: int,
    user_id: int,
    feature_key: str,
    operation_type: str,
    model: str,
    amount: int,
    ttl: timedelta,
    now: datetime,
) -> Hold:
    params = {"account_id": account_id, "user_id": user_id, "model": model, "idem_key": check.key}
    row = conn.execute(_RESERVE_FACTS, params).first()
    if row is None:
        raise UnknownAccount(f"no account with id {account_id!r}", account_id=account_id)
    check.raise_if_used(row.idem_hash, row.idem_outcome)
    if row.member_id is None:
        raise NotAMember(
            f"user {user_id} is not a member of the workspace that owns account {account_id}",
            user_id=user_id,
            account_id=account_id,
        )
    if not row.member_active:
        raise UserDeactivated(
            f"user {user_id} was deactivated and can no longer spend", user_id=user_id
        )
    price_version_id = pricing.check_current(
        model, feature_key, row.price_version_id, row.price_feature_key, row.price_active
    )
    account = _settle_due_grants(
        conn, Balance(row.id, row.balance, row.held, row.next_grant_expiry), now
    )
    if amount > account.available:
        raise InsufficientCredits(
            f"not enough credits: {format_credits(account.available, exact=True)} available, "
            f"{format_credits(amount, exact=True)} needed",
            account_id=account_id,
            available=account.available,
            needed=amount,
        )
    if row.monthly_cap is not None:
        used = month_spend(conn, account_id, user_id, now)
        if used + amount > row.monthly_cap:
            raise CapExceeded(
                f"monthly spending cap reached: {format_credits(used, exact=True)} of "
                f"{credits_text(row.monthly_cap, exact=True)} used this month, "
                f"{format_credits(amount, exact=True)} more needed",
                account_id=account_id,
                user_id=user_id,
                cap=row.monthly_cap,
                used=used,
                needed=amount,
            )
    values: dict[str, Any] = {
        "account_id": account_id,
        "user_id": user_id,
        "operation_type": operation_type,
        "feature_key": feature_key,
        "model": model,
        "price_version_id": price_version_id,
        "amount": amount,
        "captured": None,
        "status": HoldStatus.PENDING,
        "release_reason": None,
        "created_at": now,
        "expires_at": now + ttl,
        "resolved_at": None,
    }
    # The database writes the hold's journal line (trigger ``holds_journal``), in this statement.
    key = conn.execute(
        _INSERT, {name: values[name] for name in _INSERT_COLUMNS}
    ).inserted_primary_key
    assert key is not None  # a one-row INSERT always has it
    return Hold(id=key[0], **values)


def _raise_not_pending(hold: Hold) -> None:
    ended: dict[str, type[HoldNotPending]] = {
        HoldStatus.CAPTURED: HoldAlreadyCaptured,
        HoldStatus.RELEASED: HoldReleased,
        HoldStatus.EXPIRED: HoldExpired,
    }
    error = ended.get(hold.status, HoldNotPending)
    raise error(f"hold {hold.id} is already {hold.status}", hold_id=hold.id, status=hold.status)


def _pending_hold(
    conn: Connection, facts: sa.Select[Any], check: KeyCheck, hold_id: int, now: datetime
) -> tuple[Hold, list[GrantRow] | None]:
    """The hold, its account locked, its key checked and the account's due grant expiry done.

    Also the account's open grants when ``facts`` brought them (``_CAPTURE_FACTS_WITH_GRANTS``)
    and no grant expired since; else None: the caller reads them if it needs them.

    On PostgreSQL the hold's columns may be a moment stale once the account lock is granted; that
    is safe because every transition is conditional on status = 'pending'.
    """
    rows = conn.execute(facts, {"hold_id": hold_id, "idem_key": check.key}).all()
    if not rows:
        raise UnknownHold(f"no hold with id {hold_id!r}", hold_id=hold_id)
    row = rows[0]
    check.raise_if_used(row.idem_hash, row.idem_outcome)
    hold = Hold.from_row(row)
    account = Balance(hold.account_id, row.balance, row.held, row.next_grant_expiry)
    grants_expired = _settle_due_grants(conn, account, now) is not account
    if grants_expired or facts is not _CAPTURE_FACTS_WITH_GRANTS:
        return hold, None
    return hold, [
        GrantRow(r.grant_id, r.grant_remaining, r.grant_priority, r.grant_expires_at)
        for r in rows
        if r.grant_id is not None
    ]


def _ensure_pending(conn: Connection, hold: Hold, now: datetime) -> None:
    if hold.status != HoldStatus.PENDING:
        _raise_not_pending(hold)
    if hold.expires_at <= now:
        if not expire(conn, hold, now):
            _raise_not_pending(read(conn, hold.id))
        raise HoldExpired(
            f"hold {hold.id} expired at {hold.expires_at.isoformat()}",
            hold_id=hold.id,
            status=HoldStatus.EXPIRED,
        )


def _resolve(
    conn: Connection,
    hold: Hold,
    status: str,
    now: datetime,
    captured: int | None = None,
    reason: str | None = None,
) -> None:
    params = {
        "hold_id": hold.id,
        "new_status": status,
        "captured_amount": captured,
        "reason": reason,
        "now": now,
    }
    if conn.execute(_RESOLVE, params).rowcount != 1:
        _raise_not_pending(read(conn, hold.id))


def capture(conn: Connection, check: KeyCheck, hold_id: int, amount: int, now: datetime) -> Hold:
    facts = _CAPTURE_FACTS_WITH_GRANTS if conn.dialect.name == "sqlite" else _CAPTURE_FACTS
    hold, open_grants = _pending_hold(conn, facts, check, hold_id, now)
    # Checked before the status so a replay of this request always gets the same answer.
    if amount > hold.amount:
        raise CaptureExceedsHold(
            f"cannot capture {credits_text(amount, exact=True)} on hold {hold.id}: only "
            f"{format_credits(hold.amount, exact=True)} held",
            hold_id=hold.id,
            held=hold.amount,
            requested=amount,
        )
    _ensure_pending(conn, hold, now)
    _resolve(conn, hold, HoldStatus.CAPTURED, now, captured=amount)
    lines: list[Entry] = []
    if amount:
        template = Entry(
            hold.account_id,
            "capture",
            held_delta=-amount,
            hold_id=hold.id,
            operation_type=hold.operation_type,
        )
        lines += grants.consume(conn, hold.account_id, amount, now, template, open_grants)
    if hold.amount > amount:
        lines.append(
            Entry(
                hold.account_id,
                "release",
                held_delta=-(hold.amount - amount),
                hold_id=hold.id,
                operation_type=hold.operation_type,
                reason="unused part of the hold",
            )
        )
    journal.append(conn, lines, now)
    return hold.resolved(HoldStatus.CAPTURED, now, captured=amount)


def release(conn: Connection, check: KeyCheck, hold_id: int, reason: str, now: datetime) -> Hold:
    hold, _ = _pending_hold(conn, _RELEASE_FACTS, check, hold_id, now)
    _ensure_pending(conn, hold, now)
    _resolve(conn, hold, HoldStatus.RELEASED, now, reason=reason)
    journal.append(
        conn,
        [
            Entry(
                hold.account_id,
                "release",
                held_delta=-hold.amount,
                hold_id=hold.id,
                operation_type=hold.operation_type,
                reason=reason,
            )
        ],
        now,
    )
    return hold.resolved(HoldStatus.RELEASED, now, reason=reason)


def expire(conn: Connection, hold: Hold, now: datetime) -> bool:
    """Expire a pending hold whose TTL has passed; False if something else resolved it first."""
    params = {
        "hold_id": hold.id,
        "new_status": HoldStatus.EXPIRED,
        "captured_amount": None,
        "reason": "hold expired",
        "now": now,
    }
    if conn.execute(_RESOLVE, params).rowcount != 1:
        return False
    journal.append(
        conn,
        [
            Entry(
                hold.account_id,
                "expire",
                held_delta=-hold.amount,
                hold_id=hold.id,
                operation_type=hold.operation_type,
                reason="hold expired",
            )
        ],
        now,
    )
    return True


def expired_pending(conn: Connection, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(account id, hold id) of pending holds past their expiry, in lock order."""
    query = (
        sa.select(holds.c.account_id, holds.c.id)
        .where(holds.c.status == HoldStatus.PENDING, holds.c.expires_at <= now)
        .order_by(holds.c.account_id, holds.c.id)
        .limit(limit)
    )
    return [(row.account_id, row.id) for row in conn.execute(query)]


def sweep_account(
    conn: Connection, account_id: int, hold_ids: list[int], now: datetime
) -> tuple[int, int]:
    """Expire the given holds of one account, then its due grants (the account lock taken here).

    Returns (holds this call expired, grant credits this call expired). A hold that another
    sweeper or a capture ended first is skipped: the conditional update decides, not this read.
    """
    accounts.lock(conn, account_id)
    ended = 0
    for hold_id in hold_ids:
        hold = read(conn, hold_id)
        if hold.status == HoldStatus.PENDING and hold.expires_at <= now and expire(conn, hold, now):
            ended += 1
    account = accounts.read(conn, account_id)
    credits = 0
    if account.next_grant_expiry is not None and account.next_grant_expiry <= now:
        credits = grants.expire_due(conn, account_id, account.held, now)
    return ended, credits
