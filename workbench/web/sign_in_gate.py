"""Local sign-in's front door: a page URL opened without a live session goes to the sign-in form.

Only the app's page URLs (``/``, ``/chat``, ``/credits``…) are redirected, with the page asked
for in ``next`` so signing in lands on it; assets, the websocket and the other routes pass
through (the websocket's script still finds no session and shows nothing but a sign-in link).
OIDC and proxy sign-in are left alone. Pure ASGI, so websockets and streamed responses pass
untouched.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench import bootstrap
from workbench.web.identity import is_page_path, request_user
from workbench.web.sign_in_routes import sign_in_url


class SignInGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not is_page_path(path):
            await self.app(scope, receive, send)
            return
        svc = bootstrap.services()
        if svc.config.auth_mode != "local":
            await self.app(scope, receive, send)
            return
        if await run_in_threadpool(request_user, svc, HTTPConnection(scope)) is not None:
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        asked = path + (f"?{query}" if query else "")
        await RedirectResponse(sign_in_url(asked), status_code=303)(scope, receive, send)
