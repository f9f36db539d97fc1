"""Generated images on disk under ``data/images/``: one folder per call (its hold), the image
files under their real type (``0.png``, ``1.jpg``, ``2.webp``: only decoded raster images, see
``raster``) and a small ``meta.json`` saying whose they are, what was asked and each file's type.

The hold id names the folder because it is what the usage row and the ledger lines point at, and
it is what an idempotent replay finds: a finished image request returns these files instead of
calling the provider again. Who may open them is decided by the caller (owner and admins), with
``owner`` read from the metadata. Folders written before images had types list no ``extensions``:
their files are all PNG.

Only the person who made a call's images may delete them (``delete``): an admin sees and downloads
the workspace's images but does not throw away someone else's work. Deleting removes the files
only; the usage row and the ledger lines of the call stay, as money history always does.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.images.raster import MEDIA_TYPES, RasterImage


class NotTheOwner(Exception):
    """Someone other than the person who made the images asked to delete them."""


@dataclass(frozen=True)
class StoredImage:
    path: Path
    hold_id: int
    index: int
    user_id: int
    workspace_id: int

    def read(self) -> bytes:
        return self.path.read_bytes()

    @property
    def media_type(self) -> str:
        """The ``Content-Type`` to serve it with (``image/png``, ``image/jpeg``, …)."""
        return MEDIA_TYPES[self.path.suffix.lstrip(".")]


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, hold_id: int) -> Path:
        return self.root / f"{hold_id:09d}"

    def save(
        self,
        hold_id: int,
        images: Sequence[RasterImage],
        *,
        user_id: int,
        workspace_id: int,
        meta: dict[str, Any],
    ) -> list[StoredImage]:
        """Write the images (decoded ones only: the type says so), then the metadata last: a folder
        without ``meta.json`` is incomplete and is never listed."""
        folder = self._folder(hold_id)
        folder.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            _write_atomically(folder / f"{index}.{image.extension}", image.data)
        record = {
            **meta,
            "user_id": user_id,
            "workspace_id": workspace_id,
            "count": len(images),
            "extensions": [image.extension for image in images],
        }
        _write_atomically(folder / "meta.json", json.dumps(record, indent=1).encode())
        return self.load(hold_id)

    def load(self, hold_id: int) -> list[StoredImage]:
        return self.call(hold_id)[1]

    def call(self, hold_id: int) -> tuple[dict[str, Any], list[StoredImage]]:
        """What was asked (the metadata) and the images of one call, from one read of
        ``meta.json``; ``({}, [])`` when the call stored none (or is incomplete)."""
        meta = self.meta(hold_id)
        if meta is None:
            return {}, []
        folder = self._folder(hold_id)
        count = int(meta["count"])
        extensions = meta.get("extensions") or ["png"] * count
        images = [
            StoredImage(
                folder / f"{index}.{extensions[index]}",
                hold_id,
                index,
                meta["user_id"],
                meta["workspace_id"],
            )
            for index in range(count)
            if extensions[index] in MEDIA_TYPES
        ]
        return meta, images

    def delete(self, hold_id: int, *, user_id: int) -> int:
        """Delete one call's images for ``user_id``, who must have made them (``NotTheOwner``
        otherwise, and nothing is touched); how many image files went, 0 when the call has none
        (never stored, or already deleted).

        ``meta.json`` goes first: from that moment the call is neither listed nor served (the image
        route answers 404), so a crash part-way leaves at worst unlisted files, never a half-shown
        call. Of two deletes at once, the one that removes ``meta.json`` does the rest."""
        meta = self.meta(hold_id)
        if meta is None:
            return 0
        if meta.get("user_id") != user_id:
            raise NotTheOwner("Only the person who made these images can delete them.")
        folder = self._folder(hold_id)
        try:
            (folder / "meta.json").unlink()
        except FileNotFoundError:
            return 0
        removed = 0
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
            if not path.name.startswith(".tmp-"):
                removed += 1
        with contextlib.suppress(OSError):  # not empty: unlisted already, nothing to undo
            folder.rmdir()
        return removed

    def meta(self, hold_id: int) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(
                (self._folder(hold_id) / "meta.json").read_text(encoding="utf-8")
            )
        except (OSError, ValueError):
            return None
        return data


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
