"""The workbench's own HTTP routes beside Streamlit's: local sign-in, the generated images and
the Stripe webhook."""

from __future__ import annotations

from starlette.routing import BaseRoute

from workbench.web import image_routes, sign_in_routes, stripe_webhook


def routes() -> list[BaseRoute]:
    return [*sign_in_routes.routes(), *image_routes.routes(), *stripe_webhook.routes()]
