"""How the Images page shows one stored image: from the app's own image route, which checks who
asks on every request (``workbench.web.image_routes``), so the bytes never sit in Streamlit's
``/media`` store, which answers anyone holding the URL.

``st.image`` takes only absolute http(s) URLs (a relative string is read as a file path), so the
route's path is joined to the origin the browser reached the app at. Under OIDC the route cannot
tell who asks (``st.login``'s cookie is Streamlit's own), so there the page sends the bytes
through Streamlit as before.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from workbench.bootstrap import Services
from workbench.images.store import StoredImage
from workbench.web.image_routes import download_name, image_path

# AppTest has no browser URL; the link is never fetched there.
_NO_BROWSER = "http://localhost"


def image_url(hold_id: int, index: int, *, download: bool = False) -> str:
    url = st.context.url
    parts = urlsplit(url) if url else None
    origin = f"{parts.scheme}://{parts.netloc}" if parts and parts.netloc else _NO_BROWSER
    return origin + image_path(hold_id, index) + ("?download=1" if download else "")


def show_image(column: DeltaGenerator, svc: Services, image: StoredImage) -> None:
    """The picture and its Download control, in ``column``."""
    if svc.config.auth_mode == "oidc":
        data = image.read()  # once, for both the picture and its download
        column.image(data, width="stretch")
        column.download_button(
            "Download",
            data,
            file_name=download_name(image, image.path.suffix),
            mime=image.media_type,
            key=f"dl-{image.hold_id}-{image.index}",
            icon=":material/download:",
        )
        return
    column.image(image_url(image.hold_id, image.index), width="stretch")
    column.link_button(
        "Download",
        image_url(image.hold_id, image.index, download=True),
        icon=":material/download:",
    )
