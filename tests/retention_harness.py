"""A workspace with old and recent content for the retention tests, written through the real
write paths (the ledger's reserve and capture on a moved clock, the conversation store, the image
store), and a snapshot of everything a purge may or may not touch.

Times are relative to the real clock, so the command line (which purges at the real now) and the
library (given ``now``) see the same content as old: "old" is ``OLD_DAYS`` ago, "recent" is
``RECENT_DAYS`` ago, and retention is ``DAYS`` for every kind in the tests that set it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.amounts import credits
from ledger.schema import (
    audit_events,
    entries,
    holds,
    purged_usage_daily,
    usage_records,
)
from ledger.service import Ledger
from ledger.usage import CallUsage
from tests.conftest import FakeClock, Seed, seed
from tests.fake_providers import png_bytes
from workbench.chat.attachments import Attachment
from workbench.chat.conversations import Conversations
from workbench.config import Settings
from workbench.db.ledger_access import open_ledger
from workbench.db.schema import conversations, message_attachments, messages
from workbench.images.raster import decode
from workbench.images.store import ImageStore

DAYS = 30
OLD_DAYS = 100
RECENT_DAYS = 2
TABLES = {
    "conversations": conversations,
    "messages": messages,
    "message_attachments": message_attachments,
    "usage_records": usage_records,
    "purged_usage_daily": purged_usage_daily,
    "holds": holds,
    "entries": entries,
    "audit_events": audit_events,
}


def real_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class World:
    """What was written, by age."""

    seed: Seed
    image_root: Path
    old_conversations: list[int] = field(default_factory=list)
    recent_conversations: list[int] = field(default_factory=list)
    old_usage: list[int] = field(default_factory=list)
    recent_usage: list[int] = field(default_factory=list)
    # Hold ids of image calls (their folders under ``image_root``).
    old_images: list[int] = field(default_factory=list)
    recent_images: list[int] = field(default_factory=list)
    old_messages: int = 0
    old_attachment_bytes: int = 0

    def folders(self, hold_ids: list[int]) -> list[Path]:
        store = ImageStore(self.image_root)
        return [image.path.parent for hold_id in hold_ids for image in store.load(hold_id)[:1]]


def prepare(db_url: str, image_root: Path) -> None:
    """What every entry point does first (both schemas, catalogue and offers seeded), so that a
    command's own opening changes nothing the tests compare."""
    open_ledger(Settings(database_url=db_url, image_dir=image_root)).close()


def open_world(
    book: Ledger,
    clock: FakeClock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> World:
    """Where every retention test starts: the database prepared, images under
    ``tmp_path/images`` (the command line pointed there too when ``monkeypatch`` is given), and
    the old and recent content written."""
    image_root = tmp_path / "images"
    prepare(db_url, image_root)
    if monkeypatch is not None:
        monkeypatch.setenv("WORKBENCH_IMAGE_DIR", str(image_root))
    return build(book, clock, image_root, real_now())


def chat_call(book: Ledger, s: Seed, key: str, rnd: random.Random, status: str = "ok") -> int:
    """One chat call's usage row (captured, or released on an error); its id."""
    usage = CallUsage(
        provider="demo",
        status=status,
        input_tokens=rnd.randint(1, 900),
        output_tokens=rnd.randint(0, 500),
        usd_cost_nanos=None if rnd.random() < 0.3 else rnd.randint(1, 10**7),
        latency_ms=rnd.randint(50, 5000),
        ttft_ms=rnd.randint(10, 900),
        error_type=None if status == "ok" else "ProviderError",
    )
    hold = book.reserve(
        s.account_id,
        user_id=s.member_id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(1),
        key=key,
    ).hold.id
    if status == "ok":
        book.capture(hold, rnd.randint(1, credits(1)), key=key, usage=usage)
    else:
        book.release(hold, reason=status, key=key, usage=usage)
    row = book.recent_usage(user_id=s.member_id, limit=1)[0]
    return row.id


def image_call(book: Ledger, s: Seed, store: ImageStore, key: str) -> tuple[int, int]:
    """One image call with one stored image: (its usage row id, its hold id)."""
    hold = book.reserve(
        s.account_id,
        user_id=s.member_id,
        feature_key="ai_image_generation",
        model="demo/images",
        amount=credits(10),
        key=key,
    ).hold.id
    store.save(
        hold,
        [decode(png_bytes(key))],
        user_id=s.member_id,
        workspace_id=s.workspace_id,
        meta={"prompt": f"a picture for {key}", "model": "demo/images", "size": "256x256"},
    )
    usage = CallUsage(
        provider="demo",
        status="ok",
        images=1,
        image_size="256x256",
        image_quality="standard",
        usd_cost_nanos=5_000_000,
        latency_ms=700,
    )
    book.capture(hold, credits(5), key=key, usage=usage)
    return book.recent_usage(user_id=s.member_id, limit=1)[0].id, hold


def conversation(
    store: Conversations, s: Seed, title: str, replies: int, attachment: str | None = None
) -> tuple[int, int, int]:
    """A conversation of a question and ``replies`` answers; (its id, its messages, the bytes
    attached)."""
    made = store.create(s.member_id, s.workspace_id, title)
    files = (
        [
            Attachment(
                name="notes.md",
                kind="text",
                media_type="text/markdown",
                size=len(attachment),
                text=attachment,
            )
        ]
        if attachment
        else []
    )
    store.add_message(s.member_id, made.id, "user", title, attachments=files)
    for n in range(replies):
        store.add_message(s.member_id, made.id, "assistant", f"answer {n}", credits=credits(1))
    return made.id, 1 + replies, len(attachment or "")


def build(book: Ledger, clock: FakeClock, image_root: Path, now: datetime) -> World:
    """Old content (``OLD_DAYS`` ago, over three days) and recent content (``RECENT_DAYS`` ago)
    of every kind, in one workspace."""
    rnd = random.Random(15)
    clock.now = now - timedelta(days=OLD_DAYS + 5)
    world = World(seed(book, credits(10_000), "keep"), image_root)
    s = world.seed
    chats = Conversations(book.engine, clock=clock)
    images = ImageStore(image_root)
    for age, label in ((OLD_DAYS, "old"), (RECENT_DAYS, "recent")):
        for day in range(3 if label == "old" else 1):
            clock.now = now - timedelta(days=age - day, hours=3)
            for n in range(4):
                status = "error" if n == 3 else "ok"
                row = chat_call(book, s, f"{label}-{day}-{n}", rnd, status)
                (world.old_usage if label == "old" else world.recent_usage).append(row)
            row, hold = image_call(book, s, images, f"{label}-{day}-image")
            (world.old_usage if label == "old" else world.recent_usage).append(row)
            (world.old_images if label == "old" else world.recent_images).append(hold)
            made, count, size = conversation(
                chats, s, f"{label} question {day}", 2, attachment=f"# {label} notes {day}\n"
            )
            if label == "old":
                world.old_conversations.append(made)
                world.old_messages += count
                world.old_attachment_bytes += size
            else:
                world.recent_conversations.append(made)
    # An old conversation that was deleted (waiting in the bin) goes too; one begun long ago but
    # answered recently stays, old messages and all.
    clock.now = now - timedelta(days=OLD_DAYS)
    binned, count, _ = conversation(chats, s, "binned", 1)
    chats.delete(s.member_id, binned)
    world.old_conversations.append(binned)
    world.old_messages += count
    revived, _, _ = conversation(chats, s, "revived", 1)
    clock.now = now - timedelta(days=RECENT_DAYS)
    chats.add_message(s.member_id, revived, "user", "and again?")
    world.recent_conversations.append(revived)
    clock.now = now
    return world


def snapshot(book: Ledger) -> dict[str, Any]:
    """Row counts of every table a purge may touch, and the journal and audit rows themselves."""
    with book.engine.connect() as conn:
        counts = {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for name, table in TABLES.items()
        }
        journal = [tuple(r) for r in conn.execute(sa.select(entries).order_by(entries.c.id))]
        audit = [
            tuple(r) for r in conn.execute(sa.select(audit_events).order_by(audit_events.c.id))
        ]
    return {"counts": counts, "journal": journal, "audit": audit}


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def ids_in(book: Ledger, table: sa.Table, ids: list[int]) -> list[int]:
    with book.engine.connect() as conn:
        return sorted(conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids))).scalars())
