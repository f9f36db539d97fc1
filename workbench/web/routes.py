"""The workbench's own HTTP routes beside Streamlit's: local sign-in, the generated images, the
Stripe webhook and the Prometheus metrics."""

from __future__ import annotations

from starlette.routing import BaseRoute

from workbench.web import image_routes, metrics_route, sign_in_routes, stripe_webhook


def routes() -> list[BaseRoute]:
    return [
        *sign_in_routes.routes(),
        *image_routes.routes(),
        *stripe_webhook.routes(),
        *metrics_route.routes(),
    ]
