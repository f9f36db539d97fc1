"""One call in the Images gallery: its prompt as plain text (cut to its start, the whole of it one
click away), the model and size, how many images, when, and for an admin who made them; the
images with their downloads; and for the person who made them, Delete with a confirmation.

Each card is a fragment: asking to delete, or changing one's mind, redraws that card only. Deleting
reruns the whole page, so the call leaves the gallery (and its page fills up from older calls).
"""

from __future__ import annotations

import streamlit as st

from workbench.bootstrap import Services
from workbench.images.gallery import GalleryCall, may_delete
from workbench.images.store import NotTheOwner
from workbench.ui.chrome import flash
from workbench.ui.image_links import show_image
from workbench.ui.image_wording import cut_prompt, delete_question, deleted, made_line
from workbench.ui.messages import escape_markdown
from workbench.ui.session import SignedIn

# Set, with the call's hold id after it, while that call's Delete awaits its confirmation: one
# per card, as each card redraws alone.
CONFIRM_KEY = "image_delete"
PER_ROW = 4


@st.fragment
def call_card(svc: Services, who: SignedIn, call: GalleryCall) -> None:
    with st.container(border=True):
        _prompt(call.prompt)
        st.caption(escape_markdown(f"{call.model} · {call.size}"))
        st.caption(made_line(call, who))
        for start in range(0, len(call.images), PER_ROW):
            columns = st.columns(PER_ROW)
            for column, image in zip(columns, call.images[start : start + PER_ROW], strict=False):
                show_image(column, svc, image)
        if may_delete(who, call):
            _delete(svc, who, call)


def _prompt(prompt: str) -> None:
    """What a person typed: text, never Markdown, here and in the full view."""
    short, was_cut = cut_prompt(prompt)
    st.text(short)
    if was_cut:
        with st.expander("Full prompt"):
            st.code(prompt, language=None, wrap_lines=True)


def _confirming(hold_id: int) -> str:
    return f"{CONFIRM_KEY}-{hold_id}"


def _ask(hold_id: int) -> None:
    st.session_state[_confirming(hold_id)] = True


def _keep(hold_id: int) -> None:
    st.session_state.pop(_confirming(hold_id), None)


def _delete(svc: Services, who: SignedIn, call: GalleryCall) -> None:
    """Delete, then a confirmation in the card; the files go only once it is confirmed."""
    if not st.session_state.get(_confirming(call.hold_id)):
        st.button(
            "Delete",
            key=f"delete-{call.hold_id}",
            icon=":material/delete:",
            on_click=_ask,
            args=(call.hold_id,),
        )
        return
    st.warning(delete_question(len(call.images)), icon=":material/delete:")
    confirm, keep = st.columns(2)
    keep.button(
        "Keep", key=f"keep-{call.hold_id}", on_click=_keep, args=(call.hold_id,), width="stretch"
    )
    if not confirm.button(
        "Delete for good", key=f"confirm-{call.hold_id}", type="primary", width="stretch"
    ):
        return
    _keep(call.hold_id)
    try:
        removed = svc.gateway.images.delete(call.hold_id, user_id=who.user.id)
    except NotTheOwner as refusal:
        st.error(escape_markdown(str(refusal)))
        return
    flash(deleted(removed))
    st.rerun(scope="app")
