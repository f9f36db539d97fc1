"""Opening the ledger from configuration: the one place entry points get a ``Ledger`` from."""

from __future__ import annotations

from datetime import timedelta

from ledger.service import Ledger
from workbench.billing import offers
from workbench.config import Settings, settings
from workbench.db.migrate import migrate_all, start_up_lock
from workbench.gateway import catalogue as model_catalogue


def open_ledger(config: Settings | None = None, *, migrate: bool = True) -> Ledger:
    """The configured ledger; with ``migrate``, both schemas brought to head (``migrate_all``)
    and an empty database seeded from the catalogue files (``seed_catalogue``)."""
    config = config or settings()
    ledger = Ledger.open(
        config.database_url,
        migrate=False,
        hold_ttl=timedelta(seconds=config.hold_ttl_seconds),
        pool_size=config.db_pool_size,
        busy_timeout_s=config.sqlite_busy_timeout_s,
        sqlite_synchronous=config.sqlite_synchronous,
    )
    if migrate:
        try:
            # Replicas starting together take turns: each seed checks, then writes.
            with start_up_lock(ledger.engine):
                migrate_all(ledger.engine)
                seed_catalogue(ledger, config)
        except BaseException:
            ledger.close()
            raise
    return ledger


def seed_catalogue(ledger: Ledger, config: Settings) -> list[str]:
    """Prices and model switches live in the database; the files in ``data/`` only seed it.

    With no price version yet, ``prices.toml`` is loaded; a model with no switch yet gets one as
    ``models.toml`` lists it (enabled or not). Anything already in the database is left as it
    is, so start-up never changes a price or a switch: an import (``workbench prices import``)
    or an operator's change does.
    """
    models = model_catalogue.load(config.model_catalogue)
    seeded = ledger.seed_catalogue(
        config.price_catalogue, {entry.id: entry.enabled for entry in models.entries}
    )
    # What workspaces can buy: seeded the same way (an empty table only).
    offers.seed(ledger.engine, config.credit_packs, config.plans, ledger.now())
    return seeded
