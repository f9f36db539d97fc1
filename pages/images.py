"""Images: describe, pick a model, size, quality and count, see the estimate, generate; below, the
images made so far, a page at a time, newest first."""

from __future__ import annotations

import streamlit as st

from workbench.ui.chrome import page_header
from workbench.ui.image_form import request_form
from workbench.ui.image_gallery import gallery
from workbench.ui.page_registry import spec
from workbench.ui.session import services

svc = services()
who = st.session_state["who"]
page_header(spec("images"))
# A fragment: a change of model, size or prompt reruns the form only, not the gallery below.
request_form(svc, who)
st.subheader("Your images")
gallery(svc, who)
