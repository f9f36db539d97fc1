"""Image retention: the stored images of calls older than the cut-off, removed from disk.

The image folder holds one folder per call, named by its hold id (``workbench.images.store``);
the hold says when the call was made (holds are money history, never purged). Folders are read
from disk a batch at a time and dated by one query for their holds; a folder whose hold is not in
this database is left alone (it is not this database's to judge).

A folder goes as ``ImageStore.delete`` removes one: ``meta.json`` first (from then on the call is
neither listed nor served), then the files, then the folder. Of two purges at once, the one that
removes ``meta.json`` removes and counts the rest. The gallery lists calls from their usage rows
and skips those without images, so a purged call simply stops being listed; the usage row and the
ledger lines stay (usage retention decides about the row, keeping it while the images remain).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import db
from ledger.schema import holds
from workbench.images.store import ImageStore

META = "meta.json"
# Files ``ImageStore`` writes before renaming them into place (left by a crash mid-write).
TEMPORARY = ".tmp-"


@dataclass(frozen=True)
class ImageCounts:
    calls: int = 0
    files: int = 0
    bytes: int = 0

    def __add__(self, other: ImageCounts) -> ImageCounts:
        return ImageCounts(
            self.calls + other.calls, self.files + other.files, self.bytes + other.bytes
        )


def _call_folders(root: Path, batch_size: int) -> Iterator[dict[int, Path]]:
    """The call folders under ``root`` by hold id, ``batch_size`` at a time (none if ``root`` is
    missing)."""
    try:
        entries = os.scandir(root)
    except FileNotFoundError:
        return
    batch: dict[int, Path] = {}
    with entries:
        for entry in entries:
            if entry.name.isdigit() and entry.is_dir(follow_symlinks=False):
                batch[int(entry.name)] = Path(entry.path)
                if len(batch) == batch_size:
                    yield batch
                    batch = {}
    if batch:
        yield batch


def _due(engine: Engine, folders: dict[int, Path], cutoff: datetime) -> list[Path]:
    """The folders among ``folders`` whose call (hold) was made before ``cutoff``."""
    with db.read_only_connection(engine) as conn:
        old = conn.execute(
            sa.select(holds.c.id).where(
                holds.c.id.in_(sorted(folders)), holds.c.created_at < cutoff
            )
        ).scalars()
        return [folders[hold_id] for hold_id in sorted(old)]


def _size(folder: Path) -> ImageCounts:
    """What removing ``folder`` removes: its call (when listed: it has ``meta.json``), its image
    files and every file's bytes."""
    calls = files = size = 0
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            size += path.stat().st_size
            if path.name == META:
                calls = 1
            elif not path.name.startswith(TEMPORARY):
                files += 1
    return ImageCounts(calls, files, size)


def plan(engine: Engine, root: Path, cutoff: datetime, batch_size: int) -> ImageCounts:
    """What a purge with ``cutoff`` would remove now."""
    total = ImageCounts()
    for folders in _call_folders(root, batch_size):
        for folder in _due(engine, folders, cutoff):
            with contextlib.suppress(FileNotFoundError):
                total += _size(folder)
    return total


def _unlink(path: Path) -> int | None:
    """Remove one file; its size, or None when someone else removed it first."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return None
    return size


def _remove(folder: Path) -> ImageCounts:
    """Remove one call's folder (``ImageStore.delete``'s order), counting only what this call
    removed: of two purges at once, each file is counted by the one whose unlink took it."""
    removed = ImageCounts()
    size = _unlink(folder / META)
    if size is not None:
        removed += ImageCounts(1, 0, size)
    try:
        paths = list(folder.iterdir())
    except FileNotFoundError:
        return removed
    for path in paths:
        size = _unlink(path)
        if size is not None:
            removed += ImageCounts(0, 0 if path.name.startswith(TEMPORARY) else 1, size)
    with contextlib.suppress(OSError):  # not empty: a file arrived meanwhile; unlisted anyway
        folder.rmdir()
    return removed


def purge(
    engine: Engine,
    root: Path,
    cutoff: datetime,
    batch_size: int,
    *,
    before_first: Callable[[], None],
    progress: Callable[[ImageCounts], None],
) -> ImageCounts:
    """Remove what ``plan`` counts, a batch of folders at a time; calls ``before_first`` before
    the first folder goes and ``progress`` after each batch."""
    total = ImageCounts()
    for folders in _call_folders(root, batch_size):
        due = _due(engine, folders, cutoff)
        if not due:
            continue
        before_first()
        removed = ImageCounts()
        for folder in due:
            removed += _remove(folder)
        total += removed
        progress(removed)
    return total


def images_kept(store: ImageStore, cutoff: datetime | None) -> Callable[[int, datetime], bool]:
    """Whether a call (its hold id and the hold's time) still has images after a purge with
    ``cutoff`` (None: images are kept forever): stored now, and not due."""

    def kept(hold_id: int, made_at: datetime) -> bool:
        if cutoff is not None and made_at < cutoff:
            return False
        return store.meta(hold_id) is not None

    return kept
