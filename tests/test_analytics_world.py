"""The usage the analytics tests share, written through the ledger's real write path (holds
captured, released, timed out; refusals), and an oracle that reads it back with plain SQL on the
ledger database, independently of the DuckDB mirror. The tests here check the world itself."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ledger.amounts import credits
from ledger.schema import UTCDateTime
from ledger.service import Ledger
from ledger.usage import CallUsage
from tests.conftest import FakeClock, Seed, seed

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# A row at 23:30 UTC on 11 March: 00:30 on 12 March in Berlin.
BOUNDARY = datetime(2026, 3, 11, 23, 30, tzinfo=UTC)
MODELS = (
    ("ai_text_chat", "demo/chat", "demo"),
    ("ai_text_chat", "openai/gpt-4o-mini", "openai"),
    ("ai_image_generation", "demo/images", "demo"),
)
STATUSES = ("ok", "ok", "ok", "ok", "error", "timeout", "cancelled", "refused")


@dataclass(frozen=True)
class World:
    acme: Seed
    other: Seed
    # A second member of acme, whose rows the first member must never see.
    member2_id: int
    rows: int

    def users(self) -> list[tuple[int, int]]:
        """(user id, account id) of everyone who makes calls."""
        return [
            (self.acme.admin_id, self.acme.account_id),
            (self.acme.member_id, self.acme.account_id),
            (self.member2_id, self.acme.account_id),
            (self.other.admin_id, self.other.account_id),
            (self.other.member_id, self.other.account_id),
        ]


def write_call(
    book: Ledger,
    user_id: int,
    account_id: int,
    key: str,
    status: str,
    model: tuple[str, str, str] = MODELS[0],
    rnd: random.Random | None = None,
) -> None:
    """One usage row for ``user_id``, through the same calls the gateway makes."""
    rnd = rnd or random.Random(key)
    feature, name, provider = model
    images = 1 if feature == "ai_image_generation" else 0
    usage = CallUsage(
        provider=provider,
        status=status,
        input_tokens=0 if images or status == "refused" else rnd.randint(1, 4000),
        output_tokens=0 if images or status == "refused" else rnd.randint(0, 2000),
        cached_tokens=0 if images else rnd.choice((0, 0, 128)),
        images=images if status == "ok" else 0,
        image_size="512x512" if images else None,
        image_quality="standard" if images else None,
        usd_cost_nanos=None if status == "refused" or rnd.random() < 0.2 else rnd.randint(0, 9**8),
        latency_ms=None if status == "refused" else rnd.randint(40, 40_000),
        ttft_ms=None if status == "refused" or images else rnd.randint(20, 3000),
        error_type=None if status in ("ok", "refused") else "ProviderError",
        error_message=None if status in ("ok", "refused") else f"{status} from {provider}",
    )
    if status == "refused":
        book.record_refusal(
            account_id=account_id, user_id=user_id, feature_key=feature, model=name, usage=usage
        )
        return
    hold = book.reserve(
        account_id, user_id=user_id, feature_key=feature, model=name, amount=credits(1), key=key
    ).hold.id
    if status == "ok":
        book.capture(hold, rnd.randint(1, credits(1)), key=key, usage=usage)
    elif status == "timeout":
        book.record_timeout(hold, usage)
    else:
        book.release(hold, reason=status, key=key, usage=usage)


def build_world(book: Ledger, clock: FakeClock, rows: int = 60, start: int = 0) -> World:
    """Two workspaces (acme with an admin and two members; other with an admin and a member) and
    ``rows`` calls from ``START`` on, spread over four days, one of them at ``BOUNDARY``."""
    acme = seed(book, credits(1000), "acme")
    other = seed(book, credits(1000), "other")
    member2 = book.create_user("acme-member2")
    book.add_member(acme.workspace_id, member2.id, "member")
    world = World(acme, other, member2.id, rows)
    write_rows(book, clock, world, rows, start)
    return world


def write_rows(book: Ledger, clock: FakeClock, world: World, rows: int, start: int = 0) -> None:
    """``rows`` more calls, 97 minutes apart from ``START + start * 97 min``."""
    rnd = random.Random(11 + start)
    for i in range(start, start + rows):
        clock.now = START + timedelta(minutes=97 * i)
        if clock.now <= BOUNDARY < clock.now + timedelta(minutes=97):
            clock.now = BOUNDARY
        user_id, account_id = world.users()[i % 5]
        status = STATUSES[rnd.randrange(len(STATUSES))]
        write_call(book, user_id, account_id, f"w{i}", status, rnd.choice(MODELS), rnd)


# --- the oracle: plain SQL on the ledger database -----------------------------------------------

COLUMNS = (
    "id, created_at, user_id, workspace_id, model, feature_key, provider, status, credits, "
    "usd_cost_nanos, input_tokens, output_tokens, cached_tokens, images, latency_ms, ttft_ms"
)


def oracle_rows(
    book: Ledger, start: datetime, end: datetime, visible: str = "1 = 1", **params: Any
) -> list[sa.Row[Any]]:
    """Usage rows in [start, end) matching the SQL condition ``visible``, read with plain SQL."""
    query = sa.text(
        f"SELECT {COLUMNS} FROM usage_records "
        f"WHERE created_at >= :start AND created_at < :end AND ({visible}) ORDER BY id"
    ).bindparams(
        sa.bindparam("start", type_=UTCDateTime),
        sa.bindparam("end", type_=UTCDateTime),
    )
    query = query.columns(created_at=UTCDateTime)
    with book.engine.connect() as conn:
        return list(conn.execute(query, {"start": start, "end": end, **params}))


def visible_sql(level: str, user_id: int, admin_of: tuple[int, ...] = ()) -> str:
    """Who sees what, written out once more for the oracle."""
    if level == "operator":
        return "1 = 1"
    if level == "admin":
        return f"workspace_id IN ({', '.join(map(str, admin_of))}) OR user_id = {user_id}"
    return f"user_id = {user_id}"


def percentile(values: list[int], q: float) -> float | None:
    """Linear interpolation between closest ranks (DuckDB's quantile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def local_bucket(moment: datetime, grain: str, tz: str) -> datetime:
    """The start of ``moment``'s bucket in the display time zone, computed in Python."""
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    if grain == "hour":
        return datetime(local.year, local.month, local.day, local.hour, tzinfo=zone)
    day = datetime(local.year, local.month, local.day, tzinfo=zone)
    if grain == "day":
        return day
    if grain == "week":
        monday = local.date() - timedelta(days=local.weekday())
        return datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)


@pytest.fixture
def world(ledger: Ledger, clock: FakeClock) -> World:
    return build_world(ledger, clock)


@pytest.fixture
def mirror_path(tmp_path: Path) -> Path:
    return tmp_path / "analytics.duckdb"


def test_the_world_has_every_status_both_workspaces_and_a_late_evening_row(
    ledger: Ledger, world: World
) -> None:
    rows = oracle_rows(ledger, START - timedelta(days=1), START + timedelta(days=30))
    assert len(rows) == world.rows
    assert {r.status for r in rows} == {"ok", "error", "timeout", "cancelled", "refused"}
    assert {r.workspace_id for r in rows} == {world.acme.workspace_id, world.other.workspace_id}
    assert BOUNDARY in {r.created_at for r in rows}
    assert any(r.usd_cost_nanos is None for r in rows)
    assert len({r.created_at.date() for r in rows}) >= 4
