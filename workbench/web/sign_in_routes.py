"""Local sign-in over plain HTTP: ``GET``/``POST /auth/sign-in``.

The form posts here; a right password opens a server-side session (``workbench.auth``) and sets
its token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS), then redirects to the page that
was asked for. Failures are throttled per username and per client address in the database
(``workbench.auth.throttle``), logged there, and answered with one message that never says
whether the username exists.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from workbench import bootstrap
from workbench.auth.local_logins import Locked, SignedIn
from workbench.bootstrap import Services
from workbench.ui.page_registry import FAVICON
from workbench.web.identity import (
    COOKIE,
    SIGN_IN_PATH,
    client_address,
    landing_path,
    request_user,
)
from workbench.web.sign_in_page import sign_in_page

log = logging.getLogger("workbench.web")

WRONG = "That username and password do not match."
BROKEN = "Something went wrong while signing you in and it has been logged. Try again shortly."


def sign_in_url(next_path: str) -> str:
    return f"{SIGN_IN_PATH}?next={quote(next_path, safe='/')}"


async def show_form(request: Request) -> Response:
    svc = bootstrap.services()
    asked = request.query_params.get("next", "/")
    if svc.config.auth_mode != "local":
        return RedirectResponse("/", status_code=303)
    signed_in = await run_in_threadpool(request_user, svc, request)
    if signed_in is not None:
        # Already signed in (a bookmarked sign-in link, a second tab): straight to the page.
        target = await run_in_threadpool(landing_path, svc, signed_in.user, asked)
        return RedirectResponse(target, status_code=303)
    return sign_in_page(asked)


async def submit(request: Request) -> Response:
    svc = bootstrap.services()
    if svc.config.auth_mode != "local":
        return PlainTextResponse("Local sign-in is switched off here.", status_code=404)
    if not _same_origin(request):
        # A form on another site posting here (login CSRF): refused before anything is read.
        return PlainTextResponse("Sign-in must come from the workbench's own page.", 403)
    form = await request.form(max_files=0, max_fields=8, max_part_size=4096)
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    asked = str(form.get("next") or "/")
    if not username.strip() or not password:
        return sign_in_page(asked, username=username, problem=WRONG, status_code=401)
    try:
        return await run_in_threadpool(_sign_in, svc, request, username, password, asked)
    except Exception:
        # Whatever broke (the database, a bug) is logged in full; the person gets a sentence,
        # never the detail, and no cookie.
        log.exception("sign-in failed unexpectedly for %r", username[:64])
        return sign_in_page(asked, username=username, problem=BROKEN, status_code=500)


def _sign_in(svc: Services, request: Request, username: str, password: str, asked: str) -> Response:
    address = client_address(request)
    outcome = svc.logins.sign_in(svc.ledger, username, password, address)
    if isinstance(outcome, Locked):
        return sign_in_page(
            asked, username=username, problem=locked_message(outcome.until), status_code=429
        )
    if not isinstance(outcome, SignedIn):
        return sign_in_page(asked, username=username, problem=WRONG, status_code=401)
    user = outcome.user
    token, session = svc.web_sessions.open(
        user.id, address, request.headers.get("user-agent", "")[:200]
    )
    log.info("signed in: %s (session %s)", user.username, session.id)
    response = RedirectResponse(landing_path(svc, user, asked), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(svc.web_sessions.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
    )
    return response


def locked_message(until: datetime) -> str:
    return f"Too many failed sign-ins. Try again after {until:%H:%M} UTC."


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Old browsers and command-line clients send no Origin; SameSite=Lax still keeps the
        # cookie off cross-site posts, so only a same-site form can sign anyone in.
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


async def favicon(_request: Request) -> Response:
    return FileResponse(FAVICON, media_type="image/png")


def routes() -> list[BaseRoute]:
    return [
        Route(SIGN_IN_PATH, show_form, methods=["GET"]),
        Route(SIGN_IN_PATH, submit, methods=["POST"]),
        Route("/auth/favicon.png", favicon, methods=["GET"]),
    ]
