"""Usage records: one row per provider call, and one per refusal before a call.

A call's row is inserted in the transaction that ends its hold (capture or release), so the record
of what a call cost can never disagree with the ledger lines it caused. A refusal (insufficient
credits, a cap, a rate limit, an unpriced model, a feature switched off) has no hold; its row,
with zero credits, is written on its own.

A row has two halves. What the call *used* (``CallUsage``: provider, status, tokens, images,
latency, cost in USD, the error) is the gateway's measurement. *Who* made it, from which account,
for which feature and model, at which price version, and what it was charged is the ledger's:
``UsageIdentity.of_hold`` takes it from the hold, the one place it comes from, and the workspace
from the hold's account. The gateway cannot write a row that disagrees with the money.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.clock import check_when
from ledger.errors import InvalidInput
from ledger.features import operation_type
from ledger.owners import User
from ledger.schema import USAGE_STATUSES, accounts, usage_records, users

if TYPE_CHECKING:
    from ledger.holds import Hold

_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class CallUsage:
    """What one provider call (or a refusal before one) used, as the gateway measured it.
    Counts are whole numbers, never None."""

    provider: str
    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    images: int = 0
    image_size: str | None = None
    image_quality: str | None = None
    usd_cost_nanos: int | None = None
    latency_ms: int | None = None
    ttft_ms: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    idempotency_key: str | None = None

    def check(self) -> None:
        """Refuse a malformed record before it reaches a money transaction."""
        if self.status not in USAGE_STATUSES:
            raise InvalidInput(f"usage status must be one of {USAGE_STATUSES}, got {self.status!r}")
        for name in ("input_tokens", "output_tokens", "cached_tokens", "images"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"usage {name} must be a whole number >= 0, got {value!r:.40}")


@dataclass(frozen=True)
class UsageIdentity:
    """Who made a call, paying from which account, for what, at which price version."""

    user_id: int
    account_id: int
    feature_key: str
    operation_type: str
    model: str
    price_version_id: int | None

    @classmethod
    def of_hold(cls, hold: Hold) -> UsageIdentity:
        """A call's identity: always its hold's, never what a caller says."""
        return cls(
            user_id=hold.user_id,
            account_id=hold.account_id,
            feature_key=hold.feature_key,
            operation_type=hold.operation_type,
            model=hold.model,
            price_version_id=hold.price_version_id,
        )

    @classmethod
    def of_refusal(
        cls, *, user_id: int, account_id: int, feature_key: str, model: str
    ) -> UsageIdentity:
        """A refused request's identity (it got no hold, so no price version)."""
        return cls(user_id, account_id, feature_key, operation_type(feature_key).value, model, None)


@dataclass(frozen=True)
class UsageRow:
    """A usage row as stored; ``credits`` (micro-credits) is what the call's hold captured."""

    id: int
    created_at: datetime
    user_id: int
    workspace_id: int
    account_id: int
    hold_id: int | None
    feature_key: str
    operation_type: str
    model: str
    provider: str
    status: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    images: int
    image_size: str | None
    image_quality: str | None
    credits: int
    usd_cost_nanos: int | None
    price_version_id: int | None
    latency_ms: int | None
    ttft_ms: int | None
    error_type: str | None
    error_message: str | None
    idempotency_key: str | None


_BY_HOLD = sa.select(usage_records).where(usage_records.c.hold_id == sa.bindparam("hold_id"))
# The account's workspace, in the INSERT itself: no read before the write.
_INSERT = (
    usage_records.insert()
    .values(
        workspace_id=sa.select(accounts.c.workspace_id)
        .where(accounts.c.id == sa.bindparam("of_account"))
        .scalar_subquery()
    )
    .returning(usage_records.c.id)
)
_ROW_FIELDS = tuple(f.name for f in fields(UsageRow))


def insert(
    conn: Connection,
    identity: UsageIdentity,
    usage: CallUsage,
    now: datetime,
    *,
    credits: int = 0,
    hold_id: int | None = None,
) -> int:
    """Write one row; ``credits`` is what the hold captured (0 for refusals and releases)."""
    values: dict[str, Any] = {**asdict(identity), **asdict(usage)}
    if usage.error_message is not None:
        values["error_message"] = usage.error_message[:_MESSAGE_LIMIT]
    values.update(credits=credits, hold_id=hold_id, created_at=now, of_account=identity.account_id)
    return int(conn.execute(_INSERT, values).scalar_one())


def insert_for_hold(conn: Connection, hold: Hold, usage: CallUsage, now: datetime) -> int:
    """The row of the call ``hold`` paid for, as the hold stands (its capture, if any)."""
    identity = UsageIdentity.of_hold(hold)
    return insert(conn, identity, usage, now, credits=hold.captured or 0, hold_id=hold.id)


def _row(row: Any) -> UsageRow:
    mapping = row._mapping
    return UsageRow(**{name: mapping[name] for name in _ROW_FIELDS})


def for_hold(conn: Connection, hold_id: int) -> UsageRow | None:
    row = conn.execute(_BY_HOLD, {"hold_id": hold_id}).first()
    return None if row is None else _row(row)


def recent(
    conn: Connection,
    *,
    user_id: int | None = None,
    workspace_id: int | None = None,
    limit: int = 100,
) -> list[UsageRow]:
    """Newest first, for one user or workspace (or everyone)."""
    query = sa.select(usage_records).limit(limit)
    if user_id is None and workspace_id is None:
        query = query.order_by(usage_records.c.id.desc())
    else:  # through the (workspace_id | user_id, created_at) index, in its order: no sort
        query = query.order_by(usage_records.c.created_at.desc(), usage_records.c.id.desc())
    if user_id is not None:
        query = query.where(usage_records.c.user_id == user_id)
    if workspace_id is not None:
        query = query.where(usage_records.c.workspace_id == workspace_id)
    return [_row(row) for row in conn.execute(query)]


@dataclass(frozen=True)
class ImageCallRow:
    """A call that kept images (its usage row) and who made it."""

    usage: UsageRow
    maker: User


def image_calls(
    conn: Connection,
    *,
    workspace_id: int,
    user_id: int | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    limit: int = 25,
) -> list[ImageCallRow]:
    """One page of a workspace's calls that kept images (or one member's there), newest first:
    keyset paging, so ``before_id`` is the last row id of the page before (None: the newest).
    ``since`` (UTC) leaves out the calls made before it: image retention has removed, or is
    about to remove, their images.

    A call kept images when its row has a hold and counts images; a refusal or a failed call
    counts none. The maker comes in the same query: a gallery page needs no read per row.
    """
    _check_id(workspace_id, "workspace id")
    _check_id(user_id, "user id", optional=True)
    _check_id(before_id, "before id", optional=True)
    check_when(since, "since")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be a whole number from 1 to 1000, got {limit!r:.40}")
    query = (
        sa.select(usage_records, users.c.username, users.c.display_name)
        .join(users, users.c.id == usage_records.c.user_id)
        .where(
            usage_records.c.workspace_id == workspace_id,
            usage_records.c.hold_id.is_not(None),
            usage_records.c.images > 0,
        )
        .order_by(usage_records.c.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(usage_records.c.user_id == user_id)
    if before_id is not None:
        query = query.where(usage_records.c.id < before_id)
    if since is not None:
        query = query.where(usage_records.c.id > _last_id_before(workspace_id, since))
    return [
        ImageCallRow(_row(row), User(row.user_id, row.username, row.display_name))
        for row in conn.execute(query)
    ]


def _last_id_before(workspace_id: int, since: datetime) -> sa.ColumnElement[int]:
    """The id of the workspace's newest row made before ``since`` (0 when none), as a bound on
    the id: one seek in the (workspace, created_at) index, so the gallery's query stays a range
    of its own index instead of dating every older image call. Ids follow creation order (two
    rows settled in the same instant may swap, a millisecond's difference at the cut-off)."""
    newest_before = (
        sa.select(usage_records.c.id)
        .where(usage_records.c.workspace_id == workspace_id, usage_records.c.created_at < since)
        .order_by(usage_records.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(newest_before, 0)


def _check_id(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{what} must be a positive integer id, got {value!r:.40}")
