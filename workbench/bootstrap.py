"""The process's services, built once: the ledger (both schemas migrated), the gateway, sign-in,
conversations and billing.

Every consumer in the process shares the one ``Services``: each Streamlit session (through
``workbench.ui.session.services``), the ``st.App`` lifespan that builds it before the first
request, and the extra HTTP routes the app carries (sign-in, images, the Stripe webhook).
Everything in it is thread-safe (an engine with its pool, a gateway with its own locks), never a
per-session object.
Framework-free, so the command line and the tests build the same thing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ledger.service import Ledger
from workbench.auth.local_logins import LocalLogins
from workbench.auth.throttle import SignInThrottle
from workbench.auth.web_sessions import WebSessions
from workbench.billing.service import Billing, open_billing
from workbench.chat.conversations import Conversations
from workbench.config import Settings, settings
from workbench.db.ledger_access import open_ledger
from workbench.db.migrate import start_up_lock
from workbench.gateway.facade import Gateway
from workbench.gateway.setup import build_gateway
from workbench.web import log_redaction


@dataclass(frozen=True)
class Services:
    config: Settings
    ledger: Ledger
    gateway: Gateway
    logins: LocalLogins
    # Local sign-in's server-side sessions (the cookie's token → a user), shared by the sign-in
    # route, the image route and every Streamlit session.
    web_sessions: WebSessions
    conversations: Conversations
    billing: Billing


def open_services(config: Settings) -> Services:
    """A new set of services for ``config`` (migrations run first). Most code wants
    :func:`services`, the process's shared set; this is for tools and tests that need their own."""
    ledger = open_ledger(config)
    return Services(
        config=config,
        ledger=ledger,
        gateway=build_gateway(ledger, config),
        logins=LocalLogins(ledger.engine, SignInThrottle.from_settings(ledger.engine, config)),
        web_sessions=WebSessions.from_settings(ledger.engine, config),
        conversations=Conversations(ledger.engine),
        billing=open_billing(ledger, config),
    )


_lock = threading.Lock()
_shared: Services | None = None


def services() -> Services:
    """The process's services, built (and the first admin announced) on first use.

    Kept in this module, never in ``st.cache_resource``: any websocket client, signed in or not,
    can send Streamlit's clear-cache message, which empties every Streamlit cache of the process;
    services kept there were rebuilt on the next run with a new engine each time, and the old
    ones' connections stayed open."""
    global _shared
    with _lock:
        if _shared is None:
            # Before anything can log: the server's log must never show a Streamlit session id.
            log_redaction.install()
            built = open_services(settings())
            announce_first_admin(built)
            _shared = built
        return _shared


def shutdown() -> None:
    """Close the shared services (the server is stopping, or a test configured another set)."""
    global _shared
    with _lock:
        if _shared is not None:
            _shared.ledger.close()
            _shared = None


def announce_first_admin(services: Services) -> str | None:
    """Local sign-in's first start: create ``admin`` with a random password and print it once."""
    if services.config.auth_mode != "local":
        return None
    # Replicas starting together on an empty database: one creates the admin, the others find it.
    with start_up_lock(services.ledger.engine):
        password = services.logins.create_first_admin(services.ledger)
    if password is not None:
        banner = "=" * 72
        print(
            f"\n{banner}\n  First start: sign in as 'admin' with the password  {password}\n"
            "  It is shown only this once. Set others' passwords with "
            "`workbench auth set-password`.\n"
            f"{banner}\n",
            flush=True,
        )
    return password
