"""One purge run (``workbench purge``): what the retention settings say is too old, found and then
removed in bounded batches, each batch its own transaction.

Order: conversations; then stored images; then raw usage rows (a call's row stays while its images
do, so images go first). A dry run finds the same things by the same conditions and removes
nothing. A second run right after the first finds nothing: the conditions are the cut-offs alone.

The run's one audit event (``retention.purge``, target ``retention``) records the settings, the
cut-offs and what the run found when it started. It is written in the transaction of the run's
first batch that deletes rows (before the first image folder goes, when images come first), so no
row is ever removed without it, and a run that finds nothing writes none. A run cut short leaves
its event and the batches it committed; the next run removes the rest and records its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.engine import Connection, Engine

from ledger import audit, db
from workbench.images.store import ImageStore
from workbench.retention import conversations, images, usage
from workbench.retention.conversations import ConversationCounts
from workbench.retention.images import ImageCounts
from workbench.retention.lock import only_purge
from workbench.retention.policy import Cutoffs, Policy, RetentionError
from workbench.retention.usage import UsageCounts

ACTION: Final = "retention.purge"
MAX_BATCH: Final = 100_000

Counts = ConversationCounts | ImageCounts | UsageCounts


@dataclass(frozen=True)
class Found:
    """Per kind, what a run found or removed (None: the kind is kept forever)."""

    conversations: ConversationCounts | None = None
    images: ImageCounts | None = None
    usage: UsageCounts | None = None

    @property
    def anything(self) -> bool:
        return bool(
            (self.conversations and self.conversations.conversations)
            or (self.images and (self.images.calls or self.images.files))
            or (self.usage and self.usage.rows)
        )


@dataclass(frozen=True)
class PurgeReport:
    """A run: when, by which policy and cut-offs, what it found at the start and (not a dry run)
    what it removed. ``busy``: another purge held the lock, so nothing was looked at."""

    now: datetime
    policy: Policy
    cutoffs: Cutoffs
    dry_run: bool
    found: Found
    removed: Found
    busy: bool = False


def check_batch_size(batch_size: object) -> int:
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or not 1 <= batch_size <= MAX_BATCH
    ):
        raise RetentionError(
            f"the batch size must be a whole number from 1 to {MAX_BATCH:,}, got {batch_size!r:.40}"
        )
    return batch_size


def find(engine: Engine, image_root: Path, policy: Policy, now: datetime, batch_size: int) -> Found:
    """What a purge at ``now`` would remove (reads only)."""
    cut = policy.cutoffs(now)
    keeps = images.images_kept(ImageStore(image_root), cut.images)
    return Found(
        None if cut.conversations is None else conversations.plan(engine, cut.conversations),
        None if cut.images is None else images.plan(engine, image_root, cut.images, batch_size),
        None if cut.usage is None else usage.plan(engine, cut.usage, keeps, batch_size),
    )


def run(
    engine: Engine,
    image_root: Path,
    policy: Policy,
    now: datetime,
    *,
    dry_run: bool,
    batch_size: int = 1000,
    progress: Callable[[str, Counts], None] = lambda kind, counts: None,
    on_found: Callable[[PurgeReport], None] = lambda report: None,
) -> PurgeReport:
    """Find what is too old at ``now`` and, unless ``dry_run``, remove it. ``progress`` hears of
    each batch (its kind and what it removed); ``on_found`` gets the report of what was found
    before anything is removed."""
    batch_size = check_batch_size(batch_size)
    cut = policy.cutoffs(now)
    if dry_run:
        report = PurgeReport(
            now, policy, cut, True, find(engine, image_root, policy, now, batch_size), Found()
        )
        on_found(report)
        return report
    with only_purge(engine) as ours:
        if not ours:
            return PurgeReport(now, policy, cut, False, Found(), Found(), busy=True)
        found = find(engine, image_root, policy, now, batch_size)
        on_found(PurgeReport(now, policy, cut, False, found, Found()))
        if not found.anything:
            return PurgeReport(now, policy, cut, False, found, Found())
        event = _Event(engine, policy, cut, found, now)
        removed = _remove(engine, image_root, cut, batch_size, event, progress)
    return PurgeReport(now, policy, cut, False, found, removed)


def _remove(
    engine: Engine,
    image_root: Path,
    cut: Cutoffs,
    batch_size: int,
    event: _Event,
    progress: Callable[[str, Counts], None],
) -> Found:
    def told(kind: str) -> Callable[[Any], None]:
        return lambda counts: progress(kind, counts)

    gone_conversations = gone_images = gone_usage = None
    if cut.conversations is not None:
        gone_conversations = conversations.purge(
            engine,
            cut.conversations,
            batch_size,
            in_transaction=event.record,
            progress=told("conversations"),
        )
    if cut.images is not None:
        gone_images = images.purge(
            engine,
            image_root,
            cut.images,
            batch_size,
            before_first=event.record_alone,
            progress=told("images"),
        )
    if cut.usage is not None:
        gone_usage = usage.purge(
            engine,
            cut.usage,
            batch_size,
            images.images_kept(ImageStore(image_root), cut.images),
            in_transaction=event.record,
            progress=told("usage"),
        )
    return Found(gone_conversations, gone_images, gone_usage)


class _Event:
    """The run's audit event, written once: by the first transaction that deletes (``record``),
    or in one of its own just before the first file goes (``record_alone``)."""

    def __init__(
        self, engine: Engine, policy: Policy, cut: Cutoffs, found: Found, now: datetime
    ) -> None:
        self.engine = engine
        self.written = False
        self.now = now
        self.after: dict[str, Any] = {}
        for kind, counts in (
            ("conversations", found.conversations),
            ("images", found.images),
            ("usage", found.usage),
        ):
            cutoff = getattr(cut, kind)
            if cutoff is not None and counts is not None:
                self.after[kind] = {
                    "days": policy.days(kind),
                    "before": cutoff.isoformat(),
                    "found": asdict(counts),
                }

    def record(self, conn: Connection) -> None:
        if self.written:
            return
        audit.record(
            conn,
            actor_user_id=None,
            action=ACTION,
            target_kind="retention",
            target=", ".join(self.after),
            reason="retention settings (WORKBENCH_RETENTION_*_DAYS)",
            after=self.after,
            now=self.now,
        )
        self.written = True

    def record_alone(self) -> None:
        if not self.written:
            with db.write_transaction(self.engine) as conn:
                self.record(conn)
