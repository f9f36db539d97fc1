"""``workbench purge`` on both backends: ``--dry-run`` says what would go (per kind, its UTC
cut-off, counts and bytes) and changes nothing; the purge removes old conversations (with their
messages and attached files), old stored images (from disk) and old raw usage rows (into daily
totals) and keeps everything recent, the journal, the holds and the audit trail (one event more);
analytics over whole UTC days read the same, in the mirror that was there and in a new one; a
second purge finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.schema import audit_events, purged_usage_daily, usage_purge_state, usage_records
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.retention_harness import (
    DAYS,
    OLD_DAYS,
    World,
    files_under,
    ids_in,
    open_world,
    real_now,
    snapshot,
)
from workbench.analytics import breakdowns, mirror, queries
from workbench.analytics.filters import Filters
from workbench.analytics.scope import scope_for
from workbench.chat.conversations import Conversations
from workbench.cli import main
from workbench.db.schema import conversations
from workbench.retention.policy import midnight_before


@pytest.fixture
def world(
    ledger: Ledger, clock: FakeClock, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    for kind in ("CONVERSATION", "IMAGE", "USAGE"):
        monkeypatch.setenv(f"WORKBENCH_RETENTION_{kind}_DAYS", str(DAYS))
    yield open_world(ledger, clock, db_url, tmp_path, monkeypatch)


def workbench(db_url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``workbench ARGS`` on ``db_url``, in this process: (exit status, stdout, stderr)."""
    status = main(["--database-url", db_url, *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def cutoffs() -> set[str]:
    """The cut-off a purge run now prints (both, if the UTC day turns during the test)."""
    return {f"{midnight_before(real_now(), DAYS):%Y-%m-%d} 00:00 UTC"}


def folder_bytes(world: World, hold_ids: list[int]) -> int:
    return sum(p.stat().st_size for f in world.folders(hold_ids) for p in f.iterdir())


def analytics(book: Ledger, world: World, path: Path) -> dict[str, Any]:
    """Every whole-UTC-day figure the dashboards show over the whole world, after a sync."""
    mirror.sync(book.engine, path)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    filters = Filters(start=today - timedelta(days=OLD_DAYS + 10), end=today + timedelta(days=1))
    scope = scope_for(book, world.seed.operator_id, None)
    figures = queries.tiles(path, scope, filters).current
    sums = {k: v for k, v in vars(figures).items() if not k.startswith(("latency", "ttft"))}
    return {
        "tiles": sums,
        "by_day_and_model": queries.credits_series(path, scope, filters, "model"),
        "requests_by_day": queries.requests_series(path, scope, filters),
        "top_models": breakdowns.top_models(path, scope, filters),
        "matrix": breakdowns.user_model_matrix(path, scope, filters),
    }


def test_dry_run_says_what_would_go_and_changes_nothing(
    ledger: Ledger, world: World, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before, files = snapshot(ledger), files_under(world.image_root)
    expected_cut = cutoffs()
    status, out, err = workbench(db_url, capsys, "purge", "--dry-run")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("purge --dry-run at ") and "nothing is removed" in lines[0]
    expected_cut |= cutoffs()
    by_kind = {line.split(",")[0]: line for line in lines[1:4]}
    for kind in ("conversations", "images", "usage"):
        assert by_kind[kind].startswith(f"{kind}, kept {DAYS} days, cut-off ")
        assert any(f"cut-off {c}: would remove " in by_kind[kind] for c in expected_cut)
    assert (
        f"would remove 4 conversations with {world.old_messages} messages and 3 attached files "
        f"({world.old_attachment_bytes} bytes)"
    ) in by_kind["conversations"]
    image_bytes = folder_bytes(world, world.old_images)
    assert (
        f"would remove the images of 3 calls: 3 image files, {image_bytes:,} bytes on disk"
        in by_kind["images"]
    )
    assert f"would remove {len(world.old_usage)} raw usage rows" in by_kind["usage"]
    assert lines[-1] == "Journal entries and audit events are never purged."
    assert snapshot(ledger) == before
    assert files_under(world.image_root) == files
    status, out, _ = workbench(db_url, capsys, "ledger", "verify")
    assert (status, out.strip()) == (0, "verify: the books balance")


def test_purge_removes_the_old_and_keeps_the_recent_the_books_and_the_totals(
    ledger: Ledger,
    world: World,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(ledger)
    old_folders = world.folders(world.old_images)
    recent_files = files_under(world.image_root)
    recent_files = [f for f in recent_files if not any(f.startswith(p.name) for p in old_folders)]
    figures = analytics(ledger, world, tmp_path / "mirror.duckdb")
    store = Conversations(ledger.engine)
    listed_before = {c.id for c in store.for_user(world.seed.member_id, world.seed.workspace_id)}

    started = real_now()
    status, out, err = workbench(db_url, capsys, "purge", "--batch-size", "2")
    assert (status, err) == (0, "")
    assert "conversations: removed 2 conversations with" in out  # a batch of two
    assert "usage: removed in all 15 raw usage rows, kept as daily totals" in out
    assert "conversations: removed in all 4 conversations with" in out
    assert "images: removed in all the images of 3 calls: 3 image files" in out

    # Old content gone, recent kept.
    assert ids_in(ledger, conversations, world.old_conversations) == []
    assert ids_in(ledger, conversations, world.recent_conversations) == sorted(
        world.recent_conversations
    )
    assert ids_in(ledger, usage_records, world.old_usage) == []
    assert ids_in(ledger, usage_records, world.recent_usage) == sorted(world.recent_usage)
    assert not any(folder.exists() for folder in old_folders)
    assert files_under(world.image_root) == recent_files
    listed = {c.id for c in store.for_user(world.seed.member_id, world.seed.workspace_id)}
    assert listed == listed_before - set(world.old_conversations)

    # The money and its history untouched; one audit event more, naming the run.
    after = snapshot(ledger)
    assert after["journal"] == before["journal"]
    assert after["counts"]["holds"] == before["counts"]["holds"]
    assert after["audit"][: len(before["audit"])] == before["audit"]
    with ledger.engine.connect() as conn:
        (event,) = conn.execute(
            sa.select(audit_events).where(audit_events.c.id > before["audit"][-1][0])
        ).all()
        state = conn.execute(sa.select(usage_purge_state)).one()
        purged = conn.execute(sa.select(sa.func.sum(purged_usage_daily.c.requests))).scalar_one()
    assert (event.action, event.target_kind, event.actor_user_id) == (
        "retention.purge",
        "retention",
        None,
    )
    assert event.target == "conversations, images, usage"
    assert '"rows": 15' in event.after and '"conversations": 4' in event.after
    assert purged == len(world.old_usage)
    assert state.purged_before in {midnight_before(t, DAYS) for t in (started, real_now())}
    assert state.generation == 8  # 15 rows, two a batch: every batch raised it once
    status, out, _ = workbench(db_url, capsys, "ledger", "verify")
    assert (status, out.strip()) == (0, "verify: the books balance")

    # Whole-UTC-day analytics read the same, in the old mirror and in one made afresh.
    assert analytics(ledger, world, tmp_path / "mirror.duckdb") == figures
    assert analytics(ledger, world, tmp_path / "new-mirror.duckdb") == figures


def test_a_second_purge_finds_nothing_more(
    ledger: Ledger, world: World, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert workbench(db_url, capsys, "purge")[0] == 0
    before, files = snapshot(ledger), files_under(world.image_root)
    status, out, err = workbench(db_url, capsys, "purge")
    assert (status, err) == (0, "")
    assert "would remove" not in out
    assert "found to remove 0 conversations with 0 messages and 0 attached files" in out
    assert "found to remove the images of 0 calls: 0 image files, 0 bytes" in out
    assert "found to remove 0 raw usage rows" in out
    assert out.splitlines()[-2:] == [
        "Nothing to remove.",
        "Journal entries and audit events are never purged.",
    ]
    assert snapshot(ledger) == before
    assert files_under(world.image_root) == files
