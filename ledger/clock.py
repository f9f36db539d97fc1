"""Time for the ledger: always aware UTC, and injectable so tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import InvalidInput

Clock = Callable[[], datetime]


def check_when(value: datetime | None, what: str) -> datetime | None:
    """An argument that must be an aware datetime (or None): a naive one would be read as the
    server's local time."""
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidInput(f"{what} must be a timezone-aware datetime (UTC), got {value!r:.60}")
    return value


def system_clock() -> datetime:
    return datetime.now(UTC)


def database_now(conn: Connection) -> datetime:
    """The database server's clock (the sweeper's reference, so app hosts' skew cannot matter).

    SQLite runs inside this process, so its clock *is* the host clock.
    """
    if conn.dialect.name == "sqlite":
        return system_clock()
    value = conn.execute(sa.select(sa.func.now())).scalar_one()
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def month_start(now: datetime) -> datetime:
    """Start of the calendar month (UTC) that ``now`` falls in: the window of monthly caps."""
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
