"""Per-user rate limits, counted in the database so they hold across every app process.

Two limits, both counted from the user's holds (a hold is a call about to be made):

- requests per minute: holds the user created in the last 60 seconds;
- concurrent calls: the user's pending holds young enough that their call can still be running.
  ``in_flight_window`` is the longest a call may run (its timeout over every attempt); an older
  pending hold is one whose call gave up with an unknown outcome and now only waits for expiry.

The check runs inside the reserve transaction, after the user's row is locked (PostgreSQL) or under
SQLite's single writer, so two processes cannot both see room for one more call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import InvalidInput, RateLimited
from ledger.schema import holds, users
from ledger.statuses import HoldStatus

MINUTE = timedelta(minutes=1)
# How soon to suggest trying again when every concurrent slot is taken: calls usually end sooner
# than their window, and the suggestion is only a hint.
CONCURRENCY_RETRY_HINT_S = 2

_LOCK_USER = sa.select(users.c.id).where(users.c.id == sa.bindparam("user_id")).with_for_update()
_RECENT = sa.select(sa.func.count(), sa.func.min(holds.c.created_at)).where(
    holds.c.user_id == sa.bindparam("user_id"), holds.c.created_at > sa.bindparam("since")
)
_IN_FLIGHT = sa.select(sa.func.count()).where(
    holds.c.user_id == sa.bindparam("user_id"),
    holds.c.created_at > sa.bindparam("since"),
    holds.c.status == HoldStatus.PENDING,
)


@dataclass(frozen=True)
class RateLimits:
    """``None`` switches a limit off."""

    per_minute: int | None
    concurrent: int | None
    in_flight_window: timedelta

    def __post_init__(self) -> None:
        for name in ("per_minute", "concurrent"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidInput(f"rate limit {name} must be a whole number >= 1 or None")
        if self.in_flight_window <= timedelta(0):
            raise InvalidInput("in_flight_window must be positive")


def enforce(conn: Connection, user_id: int, limits: RateLimits, now: datetime) -> None:
    """Raise ``RateLimited`` (with ``retry_after_s``) if one more call would break a limit."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_USER, {"user_id": user_id})
    if limits.per_minute is not None:
        count, oldest = conn.execute(_RECENT, {"user_id": user_id, "since": now - MINUTE}).one()
        if count >= limits.per_minute:
            wait = (oldest + MINUTE - now).total_seconds() if oldest else MINUTE.total_seconds()
            retry = max(1, math.ceil(wait))
            raise RateLimited(
                f"rate limit: at most {limits.per_minute} request"
                f"{'s' if limits.per_minute != 1 else ''} a minute; "
                f"try again in {retry} s",
                limit="per_minute",
                retry_after_s=retry,
            )
    if limits.concurrent is not None:
        since = now - limits.in_flight_window
        running = conn.execute(_IN_FLIGHT, {"user_id": user_id, "since": since}).scalar_one()
        if running >= limits.concurrent:
            raise RateLimited(
                f"rate limit: at most {limits.concurrent} request"
                f"{'s' if limits.concurrent != 1 else ''} at once; wait for one to finish "
                f"(try again in {CONCURRENCY_RETRY_HINT_S} s)",
                limit="concurrent",
                retry_after_s=CONCURRENCY_RETRY_HINT_S,
            )
