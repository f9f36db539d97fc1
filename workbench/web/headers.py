"""Security headers on every response of the app's server, and the middleware stack that puts
them there (``middleware()``, which ``workbench/app.py`` hands to ``st.App``).

Every response the server sends passes through ``SecurityHeaders``: Streamlit's page, its
static JavaScript and CSS, ``/_stcore/*``, ``/media/*``, the workbench's own routes, 404s and
redirects, the 500 of an unhandled error, and the websocket's upgrade. It is pure ASGI (it edits
the ``http.response.start`` and ``websocket.accept`` messages as they pass) rather than a
``BaseHTTPMiddleware``, which buffers each response through a task and breaks streamed bodies
and websockets.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.web.content_policy import CONTENT_SECURITY_POLICY
from workbench.web.internal_routes import HideInternalRoutes

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    # frame-ancestors says the same to current browsers; this is for those that predate it.
    ("X-Frame-Options", "DENY"),
)


def with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus each security header it does not already carry: a route that sets one
    itself (a stricter policy for a download, say) keeps its own."""
    merged = list(headers)
    present = {name.lower() for name, _ in merged}
    for name, value in SECURITY_HEADERS:
        raw = name.lower().encode("latin-1")
        if raw not in present:
            merged.append((raw, value.encode("latin-1")))
    return merged


_SERVER_ERROR = b"Internal Server Error"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, self._websocket_send(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": with_security_headers(message.get("headers", []))}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's own 500 is sent by its outermost middleware, outside this one, so it
            # would go out bare; answer first (the same plain 500) and let the error go on to be
            # logged.
            if not started:
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(_SERVER_ERROR)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _SERVER_ERROR})
            raise

    @staticmethod
    def _websocket_send(send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            # The upgrade's 101 (``websocket.accept``) and a refusal sent as an HTTP response
            # (``websocket.http.response.start``) carry the headers too.
            if message["type"] in {"websocket.accept", "websocket.http.response.start"}:
                message = {**message, "headers": with_security_headers(message.get("headers", []))}
            await send(message)

        return send_with_headers


def middleware(*, expose_metrics: bool = False) -> list[Middleware]:
    """Outermost first: the headers go on everything, the hidden routes' 404s included.
    ``expose_metrics`` lets ``/_stcore/metrics`` answer again (for a scraper)."""
    return [
        Middleware(SecurityHeaders),
        Middleware(HideInternalRoutes, expose_metrics=expose_metrics),
    ]
