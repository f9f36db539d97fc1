"""An Images page run reads a bounded number of calls from the image store, however many images
are gone: calls older than image retention's cut-off are not asked for at all, and past
``SCAN_LIMIT`` calls whose images were deleted the page shows what it found and Older goes on
from where it stopped, to the older images."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.schema import usage_records
from tests.app_harness import AppEnv, app_env, assert_no_exception
from tests.images_harness import images_page, make_images, one_button, prompts_shown
from workbench.images import gallery
from workbench.images.store import ImageStore

SCAN_LIMIT = 10


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The hold id of every call the app reads from the image store (one ``meta.json`` each)."""
    reads: list[int] = []
    original = ImageStore.call

    def counted(self: ImageStore, hold_id: int) -> Any:
        reads.append(hold_id)
        return original(self, hold_id)

    monkeypatch.setattr(ImageStore, "call", counted)
    return reads


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    monkeypatch.setattr(gallery, "SCAN_LIMIT", SCAN_LIMIT)
    with app_env(
        tmp_path,
        monkeypatch,
        WORKBENCH_RATE_LIMIT_PER_MINUTE="0",
        WORKBENCH_RETENTION_IMAGE_DAYS="7",
    ) as opened:
        yield opened


def test_calls_before_the_image_cut_off_are_not_read(env: AppEnv, read: list[int]) -> None:
    old = [make_images(env, env.member, f"Old {n}") for n in range(3)]
    recent = make_images(env, env.member, "Recent")
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    with env.svc.ledger.engine.begin() as conn:
        conn.execute(
            sa.update(usage_records)
            .where(usage_records.c.hold_id.in_(old))
            .values(created_at=ten_days_ago)
        )
    read.clear()

    at = images_page(env, env.member)
    assert_no_exception(at)
    assert prompts_shown(at) == ["Recent"]
    assert set(read) == {recent}, "the old calls' images are still on disk, but not asked for"
    assert [b.label for b in at.main.button if b.label == "Older"] == []


def test_a_run_stops_at_the_scan_limit_and_older_goes_on(env: AppEnv, read: list[int]) -> None:
    kept = [make_images(env, env.member, f"Kept {n}") for n in range(3)]
    deleted = [make_images(env, env.member, f"Deleted {n}") for n in range(SCAN_LIMIT + 2)]
    for hold_id in deleted:
        assert env.svc.gateway.images.delete(hold_id, user_id=env.member.id) == 1
    balance = env.svc.ledger.balance(env.account_id)
    read.clear()

    at = images_page(env, env.member)
    assert_no_exception(at)
    assert prompts_shown(at) == []
    assert read.count(deleted[-1]) >= 1 and len(set(read)) == SCAN_LIMIT, read
    assert any("Older looks further back" in c.value for c in at.main.caption)
    assert not one_button(at, "Older").disabled

    read.clear()
    at = one_button(at, "Older").click().run()
    assert_no_exception(at)
    assert prompts_shown(at) == ["Kept 2", "Kept 1", "Kept 0"]
    assert set(read) == set(deleted[:2]) | set(kept), "on from where the first run stopped"
    assert one_button(at, "Older").disabled
    assert env.svc.ledger.balance(env.account_id) == balance, "paging charges nothing"
