"""The app's long-lived objects, built once per process: the ledger (migrated, prices synced),
the app's own tables, the gateway, sign-in and conversations. Framework-free: the Streamlit side
caches one ``Services`` with ``st.cache_resource`` (an engine and a thread-safe gateway, never a
session)."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.service import Ledger
from workbench.auth.local_logins import LocalLogins
from workbench.chat.conversations import Conversations
from workbench.config import Settings
from workbench.db import schema as app_schema
from workbench.db.ledger_access import open_ledger
from workbench.gateway.facade import Gateway
from workbench.gateway.setup import build_gateway


@dataclass(frozen=True)
class Services:
    config: Settings
    ledger: Ledger
    gateway: Gateway
    logins: LocalLogins
    conversations: Conversations


def open_services(config: Settings) -> Services:
    ledger = open_ledger(config)
    app_schema.migrate(ledger.engine)
    return Services(
        config=config,
        ledger=ledger,
        gateway=build_gateway(ledger, config),
        logins=LocalLogins(ledger.engine),
        conversations=Conversations(ledger.engine),
    )


def announce_first_admin(services: Services) -> str | None:
    """Local sign-in's first start: create ``admin`` with a random password and print it once."""
    if services.config.auth_mode != "local":
        return None
    password = services.logins.create_first_admin(services.ledger)
    if password is not None:
        banner = "=" * 72
        print(
            f"\n{banner}\n  First start: sign in as 'admin' with the password  {password}\n"
            "  It is shown only this once. Set others' passwords with scripts/authctl.py.\n"
            f"{banner}\n",
            flush=True,
        )
    return password
