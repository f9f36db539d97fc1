"""Streamlit routes the workbench does not offer to the outside: answered with a plain 404 before
Streamlit sees the request.

``/_stcore/metrics`` answers anyone, signed in or not, with Streamlit's internal metric names,
the number of sessions and the memory each cache holds. Nothing in the workbench reads it, so it
is hidden for every client and method; a deployment that scrapes it would switch it back on with
``expose_metrics`` (and should then restrict it to the scraper at the proxy).
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

METRICS_SUFFIX = "/_stcore/metrics"


def is_metrics(path: str) -> bool:
    # By suffix, so a base URL path or a trailing slash (Streamlit redirects it) does not get
    # past; a page URL with it appended (``/chat/_stcore/metrics``) is only the app's HTML, and
    # a 404 there is no loss.
    return path.rstrip("/").endswith(METRICS_SUFFIX)


class HideInternalRoutes:
    def __init__(self, app: ASGIApp, *, expose_metrics: bool = False) -> None:
        self.app = app
        self.expose_metrics = expose_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.expose_metrics and is_metrics(scope["path"]):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)
