"""Who an HTTP request comes from, for the app's own routes: the local sign-in session cookie.

The cookie holds a random token; the database holds only its hash, with the session's user and
lifetimes (``workbench.auth.web_sessions``). Streamlit's pages read the same cookie through
``st.context.cookies`` (``workbench.ui.session``), so a reload or a new tab stays signed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ledger.errors import UnknownUser
from ledger.owners import User
from workbench.bootstrap import Services
from workbench.ui.page_registry import PAGES, allowed

COOKIE = "workbench_session"
SIGN_IN_PATH = "/auth/sign-in"
_PAGE_PATHS = {page.url_path for page in PAGES}


@dataclass(frozen=True)
class RequestUser:
    user: User
    # The local sign-in session; None in proxy mode, where the proxy's header says who it is.
    session_id: int | None


def request_user(svc: Services, request: HTTPConnection) -> RequestUser | None:
    """The signed-in user behind the request: local mode, the session cookie's (None without a
    cookie, or for a session revoked, idle too long, past its lifetime, or of a deactivated
    user); proxy mode, the trusted proxy's header, as the pages read it. OIDC's cookie belongs
    to Streamlit and is not read here (its pages do not use these routes). Blocking: call it
    from a worker thread in async code."""
    if svc.config.auth_mode == "proxy":
        return _proxy_user(svc, request)
    if svc.config.auth_mode != "local":
        return None
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    session = svc.web_sessions.by_token(token)
    if session is None:
        return None
    try:
        return RequestUser(svc.ledger.user_by_id(session.user_id), session.id)
    except UnknownUser:
        return None


def _proxy_user(svc: Services, request: HTTPConnection) -> RequestUser | None:
    name = request.headers.get(svc.config.proxy_user_header, "").strip()
    try:
        user = svc.ledger.user(name) if name else None
    except UnknownUser:
        return None
    if user is None or not svc.ledger.is_active(user.id):
        return None
    return RequestUser(user, None)


def client_address(request: HTTPConnection) -> str | None:
    """The peer's address as the server saw it. Behind a reverse proxy that is the proxy's own
    unless the server is told to trust its forwarding headers (docs/architecture.md §6)."""
    return request.client.host if request.client else None


def is_page_path(path: str) -> bool:
    """Whether ``path`` is one of the app's page URLs (``/``, ``/chat``…), as opposed to its
    assets, websocket and routes."""
    return path.strip("/") in _PAGE_PATHS or path in ("", "/")


def landing_path(svc: Services, user: User, asked: str) -> str:
    """Where to send someone after signing in: the page they asked for if it is one of the app's
    pages and their role may open it, else the default page. Only local paths from the page
    registry, so ``next`` can never send anyone to another site."""
    wanted, _, query = asked.partition("?")
    page = next((p for p in PAGES if p.url_path == wanted.strip("/")), None)
    if page is None:
        return "/"
    if page.audience != "member" and not allowed(page, level_of(svc, user)):
        return "/"
    # Streamlit serves the default page at the root only (web/default_page_route.py).
    path = "/" if page.default else f"/{page.url_path}"
    return path + (f"?{query}" if query else "")


def level_of(svc: Services, user: User) -> str:
    """The level the router would give this person in their first workspace."""
    if svc.ledger.actor(user.id).is_operator:
        return "operator"
    rows = svc.ledger.memberships_of(user.id)
    return "admin" if rows and rows[0][1].role == "admin" else "member"
