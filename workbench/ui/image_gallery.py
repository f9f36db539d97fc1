"""The Images page's gallery: a page of calls (``workbench.images.gallery``), newest first, each as
a card (``image_card``), with Newer and Older to walk through the rest.

Where the viewer is goes in session state, per workspace, as the start of each page they walked
past (keyset cursors): Older pushes one, Newer pops one, a new Generate clears them.
"""

from __future__ import annotations

import streamlit as st

from workbench.bootstrap import Services
from workbench.images.gallery import gallery_page
from workbench.ui.image_card import call_card
from workbench.ui.session import SignedIn

# Workspace id -> the ``before_id`` of each page past the first that the viewer walked to.
PAGES_KEY = "image_gallery_pages"
NOTHING_YET = "Nothing yet: your images will appear here."


def _cursors(workspace_id: int) -> list[int]:
    by_workspace: dict[int, list[int]] = st.session_state.setdefault(PAGES_KEY, {})
    return by_workspace.setdefault(workspace_id, [])


def _older(workspace_id: int, before_id: int) -> None:
    _cursors(workspace_id).append(before_id)


def _newer(workspace_id: int) -> None:
    cursors = _cursors(workspace_id)
    if cursors:
        cursors.pop()


def show_newest(who: SignedIn) -> None:
    """Back to the first page (after a Generate: that is where the new images are)."""
    _cursors(who.workspace.id).clear()


def _empty_page(*, first: bool, more: bool) -> str:
    if more:  # the run stopped at its scan limit among calls whose images are gone
        return "No images among these calls (their images were deleted): Older looks further back."
    return NOTHING_YET if first else "No older images."


def gallery(svc: Services, who: SignedIn) -> None:
    cursors = _cursors(who.workspace.id)
    page = gallery_page(svc, who, before_id=cursors[-1] if cursors else None)
    if who.is_admin:
        st.caption("As an admin you see every image made in this workspace.")
    if not page.calls:
        st.caption(_empty_page(first=not cursors, more=page.older is not None))
    for call in page.calls:
        call_card(svc, who, call)
    if not cursors and page.older is None:
        return
    where, newer, older = st.columns([4, 1, 1], vertical_alignment="center")
    where.caption(f"Page {len(cursors) + 1:,}, newest first")
    newer.button(
        "Newer",
        key="images_newer",
        icon=":material/chevron_left:",
        disabled=not cursors,
        on_click=_newer,
        args=(who.workspace.id,),
        width="stretch",
    )
    older.button(
        "Older",
        key="images_older",
        icon=":material/chevron_right:",
        disabled=page.older is None,
        on_click=_older,
        args=(who.workspace.id, page.older),
        width="stretch",
    )
