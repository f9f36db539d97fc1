"""Images: describe, pick a model, size, quality and count, see the estimate, generate."""

from __future__ import annotations

import uuid

import streamlit as st

from ledger.errors import LedgerError
from workbench.billing.after_charge import top_up_soon
from workbench.gateway.caller import Caller
from workbench.gateway.errors import GatewayError
from workbench.images.gallery import gallery
from workbench.ui.cached_reads import image_options
from workbench.ui.chrome import flash, page_header, show_estimate_problem, show_failure
from workbench.ui.image_links import show_image
from workbench.ui.messages import credits, escape_markdown
from workbench.ui.page_registry import spec
from workbench.ui.session import services

svc = services()
who = st.session_state["who"]
caller = Caller(who.user.id, who.workspace.id, who.workspace.account_id)
page_header(spec("images"))

models = {m.id: m for m in svc.gateway.models("image")}
model = st.selectbox("Model", list(models), format_func=lambda m: models[m].name, key="img_model")
options = image_options(model)
size_column, quality_column, count_column = st.columns(3)
size = size_column.selectbox("Size", list(options), key=f"size-{model}")
quality = quality_column.selectbox("Quality", options[size], key=f"quality-{model}-{size}")
count = count_column.number_input(
    "How many", min_value=1, max_value=models[model].max_images, value=1, key=f"n-{model}"
)
prompt = st.text_area("Describe the image", key="img_prompt", max_chars=4000)
try:
    estimate = svc.gateway.estimate_images(model=model, n=int(count), size=size, quality=quality)
    shown = escape_markdown(f"{int(count)} × {size} {quality}")
    st.caption(f"About {credits(estimate.credits)} ({shown}).")
except (LedgerError, GatewayError) as error:
    show_estimate_problem(error)

if st.button("Generate", type="primary", icon=":material/brush:", key="generate"):
    # One key per request, kept until it is answered: a rerun of the same request is not a
    # second charge, while a different request (another prompt or size) gets a key of its own.
    request = (model, prompt, int(count), size, quality)
    pending = st.session_state.get("image_request")
    if pending is None or pending[0] != request:
        st.session_state["image_request"] = (request, f"img-{uuid.uuid4().hex}")
    with st.status("Generating…", expanded=False) as status:
        try:
            result = svc.gateway.generate_images(
                caller,
                prompt,
                key=st.session_state["image_request"][1],
                model=model,
                n=int(count),
                size=size,
                quality=quality,
            )
        except (LedgerError, GatewayError) as error:
            status.update(label="Not generated", state="error", expanded=True)
            st.session_state.pop("image_request", None)
            show_failure(error)
            st.stop()
        status.update(label="Done", state="complete")
    st.session_state.pop("image_request", None)
    top_up_soon(svc.billing, who.workspace.id)  # charged: auto top-up looks in the background
    flash(
        escape_markdown(result.message)
        if result.message
        else f"{len(result.images)} image(s) for {credits(result.credits)}."
    )
    st.rerun()

st.subheader("Your images")
shown = gallery(svc, who)
if not shown:
    st.caption("Nothing yet: your images will appear here.")
for meta, images in shown:
    with st.container(border=True):
        # The prompt is what a person typed: shown as text, never as Markdown.
        st.text(str(meta.get("prompt", "")))
        made_with = f"{meta.get('model', '')} · {meta.get('size', '')}"
        st.caption(escape_markdown(made_with))
        columns = st.columns(4)
        for column, image in zip(columns, images, strict=False):
            show_image(column, svc, image)
