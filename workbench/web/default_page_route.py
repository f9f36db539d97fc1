"""The default page's own URL, ``/chat`` in the URL map, answered with a redirect to ``/``.

Streamlit serves its default page at the root only: its frontend finds no page for the default
page's ``url_path`` and shows "Page not found" before falling back. A bookmark or a link to
``/chat`` is sent to ``/`` (its query kept) before Streamlit sees it. Signed out, the sign-in
gate answers first and signing in lands on ``/`` (``identity.landing_path``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from workbench.ui.page_registry import PAGES


def default_page_path() -> str:
    """The default page's own URL path (``/chat``)."""
    return "/" + next(page for page in PAGES if page.default).url_path


async def to_root(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/" + (f"?{query}" if query else ""), status_code=307)


def routes() -> list[BaseRoute]:
    return [Route(default_page_path(), to_root, methods=["GET", "HEAD"])]
