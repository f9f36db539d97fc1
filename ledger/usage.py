"""Usage records: one row per provider call, and one per refusal before a call.

A call's row is inserted in the transaction that ends its hold (capture or release), so the record
of what a call cost can never disagree with the ledger lines it caused. A refusal (insufficient
credits, a cap, a rate limit, an unpriced model) has no hold; its row, with zero credits, is
written on its own. The ledger does not interpret these rows beyond their constraints: the
gateway decides what goes in them, dashboards read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import InvalidInput
from ledger.schema import USAGE_STATUSES, usage_records

_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class UsageRecord:
    """What one provider call (or refusal) used and cost. Counts are whole numbers, never None."""

    user_id: int
    workspace_id: int
    account_id: int
    feature_key: str
    operation_type: str
    model: str
    provider: str
    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    images: int = 0
    image_size: str | None = None
    image_quality: str | None = None
    credits: int = 0
    usd_cost_nanos: int | None = None
    price_version_id: int | None = None
    latency_ms: int | None = None
    ttft_ms: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    idempotency_key: str | None = None

    def check(self) -> None:
        """Refuse a malformed record before it reaches a money transaction."""
        if self.status not in USAGE_STATUSES:
            raise InvalidInput(f"usage status must be one of {USAGE_STATUSES}, got {self.status!r}")
        for name in ("input_tokens", "output_tokens", "cached_tokens", "images", "credits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"usage {name} must be a whole number >= 0, got {value!r:.40}")


@dataclass(frozen=True)
class UsageRow(UsageRecord):
    id: int = 0
    hold_id: int | None = None
    created_at: datetime | None = None


_INSERT = usage_records.insert().returning(usage_records.c.id)
_BY_HOLD = sa.select(usage_records).where(usage_records.c.hold_id == sa.bindparam("hold_id"))
_ROW_FIELDS = tuple(f.name for f in fields(UsageRow))


def insert(conn: Connection, record: UsageRecord, now: datetime, hold_id: int | None = None) -> int:
    values: dict[str, Any] = asdict(record)
    if record.error_message is not None:
        values["error_message"] = record.error_message[:_MESSAGE_LIMIT]
    values.update(hold_id=hold_id, created_at=now)
    return int(conn.execute(_INSERT, values).scalar_one())


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
    query = sa.select(usage_records).order_by(usage_records.c.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(usage_records.c.user_id == user_id)
    if workspace_id is not None:
        query = query.where(usage_records.c.workspace_id == workspace_id)
    return [_row(row) for row in conn.execute(query)]
