"""Pricing & features (operators only): prices as versions, models and features on or off, and
the models that can be called without a price. Logic: workbench/admin/pricing_admin.py."""

from __future__ import annotations

import streamlit as st

from ledger.errors import LedgerError
from workbench.admin import pricing_admin as pa
from workbench.ui.chrome import flash, page_header
from workbench.ui.messages import escape_markdown, sentence
from workbench.ui.page_registry import spec
from workbench.ui.session import require_operator, services

svc = services()
who = st.session_state["who"]
require_operator(who)  # checked here, on the server, whatever the menu shows
page_header(spec("admin_pricing"))
seen = pa.overview(svc)

unpriced = seen.unpriced
st.metric("Unpriced models", len(unpriced), help="Enabled models every call to which is refused.")
for row in unpriced:
    name, action = st.columns([4, 1], vertical_alignment="center")
    name.text(pa.unpriced_line(row))
    action.button(
        "Price it",
        key=f"price-it-{row.id}",
        on_click=st.session_state.__setitem__,
        args=("price_model", row.target.key),
    )

st.subheader("Models")
st.dataframe(pa.models_table(seen.rows), hide_index=True, width="stretch")

st.subheader("Change a price")
with st.container(border=True):
    key = st.selectbox(
        "Model to price",
        list(seen.targets),
        format_func=lambda k: seen.targets[k].label,
        key="price_model",
    )
    target = seen.targets[key]
    if target.per_image:
        lines = st.text_area(pa.IMAGES_LABEL, pa.images_text(target.price), key=f"img-{key}")
        typed = {"image_lines": lines}
    else:
        per_in, per_out = st.columns(2)
        now_in, now_out = pa.token_texts(target.price)
        typed = {
            "input_text": per_in.text_input(pa.INPUT_LABEL, now_in, key=f"in-{key}"),
            "output_text": per_out.text_input(pa.OUTPUT_LABEL, now_out, key=f"out-{key}"),
        }
    try:
        new = pa.proposed(target, **typed)
        problem = None
    except LedgerError as error:
        new, problem = None, str(error)
    st.dataframe(pa.preview(target, new), hide_index=True)
    if problem:
        st.caption(f"Not a price yet: {escape_markdown(problem)}")
    reason = st.text_input("Reason", key="price_reason", placeholder="e.g. provider price rise")
    if st.button("Save new price", type="primary"):
        try:
            change = pa.change_price(svc, who, pa.proposed(target, **typed), reason)
        except LedgerError as error:
            st.error(sentence(error))
        else:
            if change is None:
                st.info("Those are its current terms: nothing changed.")
            else:
                flash(f"{escape_markdown(str(change))}: calls use it within 5 seconds.")
                st.rerun()

st.caption("Past versions of this model's price (never edited: a change adds a version).")
history = svc.ledger.price_history(key, limit=100)
if history:
    st.dataframe(pa.history_table(history), hide_index=True, width="stretch")
else:
    st.caption("Never priced.")

st.subheader("Switch a model on or off")
with st.container(border=True):
    rows = {row.id: row for row in seen.switchable}
    model = st.selectbox(
        "Model", list(rows), format_func=lambda m: f"{rows[m].name} ({m})", key="switch_model"
    )
    enabled = bool(rows[model].enabled)
    st.text(pa.switch_state(seen.switches.models.get(model), enabled, what="The model"))
    model_reason = st.text_input("Reason", key="switch_model_reason")
    if st.button(f"Switch the model {'off' if enabled else 'on'}", key="switch_model_button"):
        try:
            pa.switch_model(svc, who, model, not enabled, model_reason)
        except LedgerError as error:
            st.error(sentence(error))
        else:
            shown = escape_markdown(model)  # a toast is Markdown; model ids are typed in files
            flash(f"{shown} switched {'off' if enabled else 'on'}: honoured within 5 seconds.")
            st.rerun()

st.subheader("Switch a feature on or off")
with st.container(border=True):
    known = pa.features(seen.switches)
    feature = st.selectbox(
        "Feature", list(known), format_func=lambda f: known[f][0], key="switch_feature"
    )
    name, on, switch = known[feature]
    st.text(pa.switch_state(switch, on, what="The feature"))
    message = ""
    if on:
        message = st.text_area(
            "Message people see on its page while it is off",
            key="feature_message",
            placeholder="e.g. Paused for maintenance until 14:00 UTC.",
        )
    feature_reason = st.text_input("Reason", key="switch_feature_reason")
    if st.button(f"Switch the feature {'off' if on else 'on'}", key="switch_feature_button"):
        try:
            pa.switch_feature(svc, who, feature, not on, message, feature_reason)
        except LedgerError as error:
            st.error(sentence(error))
        else:
            shown = escape_markdown(name)
            flash(f"{shown} switched {'off' if on else 'on'}: honoured within 5 seconds.")
            st.rerun()
