"""A person's past images, for the Images page, a page at a time: only their own (admins: the
workspace's), newest first.

The calls come from the ledger (``Ledger.image_calls``: usage rows with a hold that kept images,
with their makers, keyset-paged); the images and what was asked from the image store. A call whose
images were deleted keeps its usage row, so a page reads on past it until it is full.

Two bounds keep a page run quick however many images are gone. Calls older than image
retention's cut-off (``WORKBENCH_RETENTION_IMAGE_DAYS``, the purge's own) are not asked for at
all: their images are purged or about to be. And one page run looks at no more than
``SCAN_LIMIT`` calls: past that (a long run of calls whose owners deleted the images), the page
shows what it found and Older goes on from where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.owners import User
from ledger.usage import ImageCallRow
from workbench.bootstrap import Services
from workbench.images.store import StoredImage
from workbench.retention.policy import Policy
from workbench.ui.session import SignedIn

PAGE_SIZE = 24
# The most calls one page run reads the image store for (one ``meta.json`` each).
SCAN_LIMIT = 8 * PAGE_SIZE


@dataclass(frozen=True)
class GalleryCall:
    """One call on a gallery page: what was asked, by whom, when, and the images it kept."""

    usage_id: int
    hold_id: int
    made_at: datetime
    maker: User
    prompt: str
    model: str
    size: str
    images: list[StoredImage]


@dataclass(frozen=True)
class GalleryPage:
    calls: list[GalleryCall]
    # Where the next (older) page starts: ``before_id`` for ``gallery_page``; None when none is.
    older: int | None


def gallery_page(
    svc: Services,
    who: SignedIn,
    before_id: int | None = None,
    size: int = PAGE_SIZE,
) -> GalleryPage:
    """Up to ``size`` calls older than the row ``before_id`` (None: from the newest)."""
    since = Policy.of(svc.config).cutoffs(datetime.now(UTC)).images
    calls: list[GalleryCall] = []
    cursor = before_id
    scanned = 0
    while True:
        # One more than a page: whether an older page exists is known without another query.
        rows = svc.ledger.image_calls(
            workspace_id=who.workspace.id,
            user_id=None if who.is_admin else who.user.id,
            before_id=cursor,
            since=since,
            limit=size + 1,
        )
        for row in rows:
            if scanned == SCAN_LIMIT:  # enough for one run: Older goes on from this row
                return GalleryPage(calls, older=row.usage.id + 1)
            scanned += 1
            call = _call(svc, who, row)
            if call is None:
                continue
            if len(calls) == size:
                return GalleryPage(calls, older=calls[-1].usage_id)
            calls.append(call)
        if len(rows) <= size:
            return GalleryPage(calls, older=None)
        cursor = rows[-1].usage.id


def _call(svc: Services, who: SignedIn, row: ImageCallRow) -> GalleryCall | None:
    """The call as stored, or None when its images are gone (deleted) or not the viewer's."""
    hold_id = row.usage.hold_id
    if hold_id is None:  # image_calls returns calls with a hold only; this keeps mypy sure
        return None
    meta, stored = svc.gateway.images.call(hold_id)
    images = [image for image in stored if may_open(who, image)]
    if not images:
        return None
    return GalleryCall(
        usage_id=row.usage.id,
        hold_id=hold_id,
        made_at=row.usage.created_at,
        maker=row.maker,
        prompt=str(meta.get("prompt", "")),
        model=str(meta.get("model", "")),
        size=str(meta.get("size", "")),
        images=images,
    )


def may_open(who: SignedIn, image: StoredImage) -> bool:
    """The owner, or an admin of the workspace the image was made in."""
    if image.user_id == who.user.id:
        return True
    return who.is_admin and image.workspace_id == who.workspace.id


def may_delete(who: SignedIn, call: GalleryCall) -> bool:
    """Only the person who made them: an admin sees others' images but does not delete them."""
    return call.maker.id == who.user.id
