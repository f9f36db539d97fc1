"""Usage retention keeps the usage row of a call whose images are still stored (the Images gallery
lists calls from those rows): with images kept forever, old image calls stay in the gallery while
every other old row goes; once their maker deletes the images, the next purge takes the row."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.schema import usage_records
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.retention_harness import DAYS, files_under, ids_in, open_world
from workbench.cli import main
from workbench.images.store import ImageStore


def test_rows_of_stored_images_stay_until_the_images_go(
    ledger: Ledger,
    clock: FakeClock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WORKBENCH_RETENTION_USAGE_DAYS", str(DAYS))
    monkeypatch.delenv("WORKBENCH_RETENTION_IMAGE_DAYS", raising=False)
    world = open_world(ledger, clock, db_url, tmp_path, monkeypatch)
    root = world.image_root
    files = files_under(root)
    old_image_rows = [r for r in world.old_usage if r not in _chat_rows(ledger, world.old_usage)]
    assert len(old_image_rows) == 3

    assert main(["--database-url", db_url, "purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "images: kept forever (WORKBENCH_RETENTION_IMAGE_DAYS is not set)" in out
    assert (
        "would remove 12 raw usage rows, kept as daily totals (3 rows of calls whose images are "
        "still stored stay)"
    ) in out

    assert main(["--database-url", db_url, "purge"]) == 0
    capsys.readouterr()
    assert ids_in(ledger, usage_records, world.old_usage) == sorted(old_image_rows)
    assert files_under(root) == files
    listed = ledger.image_calls(workspace_id=world.seed.workspace_id, limit=100)
    assert {row.usage.hold_id for row in listed} == set(world.old_images + world.recent_images)

    # The maker deletes one old call's images: its row goes with the next purge.
    gone = world.old_images[0]
    assert ImageStore(root).delete(gone, user_id=world.seed.member_id) == 1
    assert main(["--database-url", db_url, "purge"]) == 0
    assert "usage: removed in all 1 raw usage row" in capsys.readouterr().out
    listed = ledger.image_calls(workspace_id=world.seed.workspace_id, limit=100)
    assert {row.usage.hold_id for row in listed} == set(world.old_images[1:] + world.recent_images)


def _chat_rows(book: Ledger, ids: list[int]) -> list[int]:
    return [row.id for row in book.recent_usage(limit=1000) if row.id in ids and not row.images]
