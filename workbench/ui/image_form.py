"""The Images page's request form: model, size, quality, how many, the prompt, the estimate and
Generate.

A fragment: changing a widget here reruns only the form, so the gallery below (up to a page of
calls, each with its images) is not sent to the browser again on every choice. A successful
Generate reruns the whole page, which shows the new images on the gallery's first page.
"""

from __future__ import annotations

import uuid

import streamlit as st

from ledger.errors import LedgerError
from workbench.billing.after_charge import top_up_soon
from workbench.bootstrap import Services
from workbench.gateway.caller import Caller
from workbench.gateway.errors import GatewayError
from workbench.gateway.results import ImageResult
from workbench.ui.cached_reads import image_options
from workbench.ui.chrome import flash, show_estimate_problem, show_failure
from workbench.ui.image_gallery import show_newest
from workbench.ui.image_wording import generated
from workbench.ui.messages import credits, escape_markdown
from workbench.ui.session import SignedIn

# (the request as asked, its idempotency key) while a Generate is unanswered.
REQUEST_KEY = "image_request"


@st.fragment
def request_form(svc: Services, who: SignedIn) -> None:
    models = {m.id: m for m in svc.gateway.models("image")}
    model = st.selectbox(
        "Model", list(models), format_func=lambda m: models[m].name, key="img_model"
    )
    options = image_options(model)
    size_column, quality_column, count_column = st.columns(3)
    size = size_column.selectbox("Size", list(options), key=f"size-{model}")
    quality = quality_column.selectbox("Quality", options[size], key=f"quality-{model}-{size}")
    count = int(
        count_column.number_input(
            "How many", min_value=1, max_value=models[model].max_images, value=1, key=f"n-{model}"
        )
    )
    prompt = st.text_area("Describe the image", key="img_prompt", max_chars=4000)
    try:
        estimate = svc.gateway.estimate_images(model=model, n=count, size=size, quality=quality)
        shown = escape_markdown(f"{count} × {size} {quality}")
        st.caption(f"About {credits(estimate.credits)} ({shown}).")
    except (LedgerError, GatewayError) as error:
        show_estimate_problem(error)

    if not st.button("Generate", type="primary", icon=":material/brush:", key="generate"):
        return
    result = _generate(svc, who, (model, prompt, count, size, quality))
    if result is None:
        return
    top_up_soon(svc.billing, who.workspace.id)  # charged: auto top-up looks in the background
    flash(generated(result))
    show_newest(who)
    st.rerun(scope="app")  # the gallery (outside this fragment) shows the new images


def _generate(
    svc: Services, who: SignedIn, request: tuple[str, str, int, str, str]
) -> ImageResult | None:
    """Make the images; None (the reason shown) when they were refused or failed."""
    # One key per request, kept until it is answered: a rerun of the same request is not a
    # second charge, while a different request (another prompt or size) gets a key of its own.
    pending = st.session_state.get(REQUEST_KEY)
    if pending is None or pending[0] != request:
        st.session_state[REQUEST_KEY] = (request, f"img-{uuid.uuid4().hex}")
    model, prompt, count, size, quality = request
    caller = Caller(who.user.id, who.workspace.id, who.workspace.account_id)
    with st.status("Generating…", expanded=False) as status:
        try:
            result = svc.gateway.generate_images(
                caller,
                prompt,
                key=st.session_state[REQUEST_KEY][1],
                model=model,
                n=count,
                size=size,
                quality=quality,
            )
        except (LedgerError, GatewayError) as error:
            status.update(label="Not generated", state="error", expanded=True)
            st.session_state.pop(REQUEST_KEY, None)
            show_failure(error)
            return None
        status.update(label="Done", state="complete")
    st.session_state.pop(REQUEST_KEY, None)
    return result
