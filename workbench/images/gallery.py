"""A person's past images, for the Images page: only their own (admins: the workspace's)."""

from __future__ import annotations

from workbench.bootstrap import Services
from workbench.images.store import StoredImage
from workbench.ui.session import SignedIn


def gallery(
    svc: Services, who: SignedIn, limit: int = 24
) -> list[tuple[dict[str, object], list[StoredImage]]]:
    """Newest first: (what was asked, the images) per call that returned images."""
    rows = svc.ledger.recent_usage(
        user_id=None if who.is_admin else who.user.id, workspace_id=who.workspace.id, limit=500
    )
    found: list[tuple[dict[str, object], list[StoredImage]]] = []
    for row in rows:
        if not row.images or row.hold_id is None:
            continue
        meta, stored = svc.gateway.images.call(row.hold_id)
        images = [image for image in stored if may_open(who, image)]
        if images:
            found.append((meta, images))
        if len(found) >= limit:
            break
    return found


def may_open(who: SignedIn, image: StoredImage) -> bool:
    """The owner, or an admin of the workspace the image was made in."""
    if image.user_id == who.user.id:
        return True
    return who.is_admin and image.workspace_id == who.workspace.id
