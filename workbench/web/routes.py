"""The workbench's own HTTP routes beside Streamlit's: local sign-in and the generated images."""

from __future__ import annotations

from starlette.routing import BaseRoute

from workbench.web import image_routes, sign_in_routes


def routes() -> list[BaseRoute]:
    return [*sign_in_routes.routes(), *image_routes.routes()]
