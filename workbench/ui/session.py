"""Who is signed in, in which workspace: the three sign-in modes, on the Streamlit side.

- ``local``: a username and password on the app's own sign-in page (``workbench.web``), which
  opens a server-side session behind an HttpOnly cookie; each run checks that session afresh, so a
  reload or a new tab stays signed in and a sign-out anywhere ends it everywhere.
- ``oidc``: Streamlit's ``st.login`` with an ``[auth]`` section in secrets; a person is matched to
  a user by email, then by username.
- ``proxy``: the user name a trusted reverse proxy puts in a header. Honoured only in this mode:
  in any other mode the header is ignored, so it cannot be forged past the sign-in.

In every mode the person must already be a user and a member of a workspace (admins add them).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ledger.errors import UnknownUser
from ledger.owners import Membership, User, Workspace
from workbench import bootstrap
from workbench.auth.web_sessions import WebSession
from workbench.bootstrap import Services
from workbench.web.identity import COOKIE

# The id of this tab's server-side sign-in session (never its token, which stays in the cookie).
SESSION_KEY = "web_session_id"
WORKSPACE_KEY = "workspace_id"


def services() -> Services:
    """The process's services (``workbench.bootstrap``), shared by every session."""
    return bootstrap.services()


@dataclass(frozen=True)
class SignedIn:
    user: User
    workspace: Workspace
    membership: Membership
    workspaces: tuple[Workspace, ...]
    # The platform or finance team (ledger.authority): may run every workspace.
    is_operator: bool = False

    @property
    def is_admin(self) -> bool:
        """An admin of the workspace they are in (operators run every workspace)."""
        return self.membership.role == "admin" or self.is_operator

    @property
    def level(self) -> str:
        """ "operator", "admin" or "member": what the page registry's audiences name."""
        if self.is_operator:
            return "operator"
        return "admin" if self.membership.role == "admin" else "member"


class NoWorkspace(Exception):
    """Signed in, but a member of no workspace: nothing to show until an admin adds them."""


def _identified_user(svc: Services) -> User | None:
    mode = svc.config.auth_mode
    try:
        if mode == "local":
            session = _live_session(svc)
            return svc.ledger.user_by_id(session.user_id) if session is not None else None
        if mode == "proxy":
            name = st.context.headers.get(svc.config.proxy_user_header)
            return svc.ledger.user(name.strip()) if name else None
        if not st.user.is_logged_in:
            return None
        # The email, then the identity provider's username; never the display name, which people
        # can often edit themselves.
        email = st.user.get("email")
        if email:
            try:
                return svc.ledger.user_by_email(str(email))
            except UnknownUser:
                pass
        username = st.user.get("preferred_username")
        return svc.ledger.user(str(username)) if username else None
    except UnknownUser:
        return None


def _live_session(svc: Services) -> WebSession | None:
    """This tab's sign-in session if it is still live: found by the cookie the page was opened
    with, then by its id, checked on every run (revoked, idle, too old, user deactivated)."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is not None:
        session = svc.web_sessions.check(int(session_id))
    else:
        token = st.context.cookies.get(COOKIE)
        session = svc.web_sessions.by_token(token) if token else None
    if session is None and session_id is not None:
        # Ended elsewhere (signed out in another tab, deactivated, timed out): forget what this
        # tab held for the person, as signing out here does.
        forget_everything()
    elif session is not None:
        st.session_state[SESSION_KEY] = session.id
    return session


def current(svc: Services) -> SignedIn | None:
    """The signed-in person in their chosen workspace, read afresh on every run (a role taken
    away takes effect at the next click)."""
    user = _identified_user(svc)
    if user is None or not svc.ledger.is_active(user.id):
        return None
    rows = svc.ledger.memberships_of(user.id)
    if not rows:
        raise NoWorkspace(user.username)
    chosen = st.session_state.get(WORKSPACE_KEY)
    workspace, membership = next(((w, m) for w, m in rows if w.id == chosen), rows[0])
    is_operator = svc.ledger.actor(user.id).is_operator
    return SignedIn(user, workspace, membership, tuple(w for w, _ in rows), is_operator)


def sign_out(svc: Services) -> None:
    """End the sign-in session (every tab that shares it is signed out at its next click) and
    forget everything this tab held for the person (a pending message included), so the next
    person to sign in here inherits nothing."""
    session_id = st.session_state.get(SESSION_KEY)
    if svc.config.auth_mode == "local" and session_id is not None:
        svc.web_sessions.revoke(int(session_id))
    forget_everything()
    if svc.config.auth_mode == "oidc":
        st.logout()


def forget_everything() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def require_admin(who: SignedIn) -> None:
    """The server-side check every admin page makes, whatever the menu shows (the ledger checks
    each action again)."""
    if not who.is_admin:
        st.error("This page is for workspace admins and operators.")
        st.stop()


def require_operator(who: SignedIn) -> None:
    """As ``require_admin``, for the operators' pages."""
    if not who.is_operator:
        st.error("This page is for operators (the platform and finance team).")
        st.stop()
