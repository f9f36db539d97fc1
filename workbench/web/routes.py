"""The workbench's own HTTP routes beside Streamlit's: local sign-in, the generated images, the
Stripe webhook, the Prometheus metrics, and the default page's own URL sent to ``/``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from workbench.web import (
    default_page_route,
    image_routes,
    metrics_route,
    sign_in_routes,
    stripe_webhook,
)


def routes() -> list[BaseRoute]:
    return [
        *sign_in_routes.routes(),
        *image_routes.routes(),
        *stripe_webhook.routes(),
        *metrics_route.routes(),
        *default_page_route.routes(),
    ]
