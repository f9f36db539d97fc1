"""``workbench usage seed``: synthetic usage through the ledger, from the command line.

Every event is one usage row (a call's row, or a refusal's), so a run of N events on an empty
database leaves exactly N rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_cli_ledger import db_file, workbench

__all__ = ["db_file"]

EVENTS = 600
DAYS = 30


def rows(db_file: Path) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT u.created_at, u.status, u.model, u.workspace_id, u.user_id, "
                        "u.credits, w.slug FROM usage_records u "
                        "JOIN workspaces w ON w.id = u.workspace_id"
                    )
                )
            )
    finally:
        engine.dispose()


def when(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_seed_writes_realistic_usage_once_per_seed(db_file: Path) -> None:
    args = ("usage", "seed", "--events", str(EVENTS), "--days", str(DAYS), "--seed", "7")
    before = datetime.now(UTC)
    first = workbench(db_file, *args)
    assert first.returncode == 0, first.stderr
    assert f"wrote {EVENTS:,} events" in first.stdout
    assert "4 workspaces and 40 users" in first.stdout and "credits captured" in first.stdout

    usage = rows(db_file)
    assert len(usage) == EVENTS
    statuses = Counter(str(row.status) for row in usage)
    assert {"ok", "error", "timeout", "cancelled", "refused"} <= set(statuses), statuses
    assert statuses["ok"] > 0.85 * EVENTS
    assert len({row.slug for row in usage}) == 4
    assert all(str(row.slug).startswith("synth-ws-") for row in usage)
    assert len({row.user_id for row in usage}) >= 20
    models = Counter(str(row.model) for row in usage)
    assert len(models) >= 5 and max(models.values()) < 0.5 * EVENTS
    assert sum(int(str(row.credits)) for row in usage if row.status == "refused") == 0

    times = [when(row.created_at) for row in usage]
    assert min(times) >= before - timedelta(days=DAYS) - timedelta(minutes=1)
    assert max(times) <= datetime.now(UTC)
    assert max(times) - min(times) > timedelta(days=DAYS - 2)
    by_day = Counter(t.weekday() for t in times)
    weekday = sum(by_day[d] for d in range(5)) / 5
    weekend = (by_day[5] + by_day[6]) / 2
    assert weekday > 2 * weekend, by_day
    working = sum(1 for t in times if 8 <= t.hour < 18)
    assert working > 0.5 * EVENTS

    verify = workbench(db_file, "ledger", "verify")
    assert (verify.returncode, verify.stdout.strip()) == (0, "verify: the books balance")

    again = workbench(db_file, *args)
    assert again.returncode == 0, again.stderr
    assert "nothing new" in again.stdout and f"all {EVENTS:,} events" in again.stdout
    assert len(rows(db_file)) == EVENTS

    other = workbench(db_file, "usage", "seed", "--events", "50", "--days", "5", "--seed", "8")
    assert other.returncode == 0, other.stderr
    assert "wrote 50 events" in other.stdout
    assert len(rows(db_file)) == EVENTS + 50
    assert workbench(db_file, "ledger", "verify").returncode == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--events", "0"], "'0' must be greater than zero"),
        (["--events", "-5"], "'-5' must be greater than zero"),
        (["--events", "lots"], "'lots' is not a whole number"),
        (["--events", "50,000,001"], "is more than 50,000,000"),
        ([], "Missing option '--events'"),
        (["--events", "10", "--days", "0"], "'0' must be greater than zero"),
        (["--events", "10", "--seed", "-1"], "-1 is not in the range x>=0"),
        (["--events", "10", "--workspaces", "5", "--users", "3"], "3 users cannot fill"),
    ],
)
def test_bad_arguments_are_one_line(db_file: Path, args: list[str], says: str) -> None:
    result = workbench(db_file, "usage", "seed", *args)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "--help" in lines[0], result.stderr
    assert result.stdout == ""
    assert not db_file.exists(), "a bad argument must not open the database"


def test_help_says_what_it_does(db_file: Path) -> None:
    result = workbench(db_file, "usage", "seed", "--help")
    assert result.returncode == 0
    for option in ("--events", "--days", "--seed", "--workspaces", "--users"):
        assert option in result.stdout
