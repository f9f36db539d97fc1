"""Opening the ledger from configuration: the one place entry points get a ``Ledger`` from."""

from __future__ import annotations

from datetime import timedelta

from ledger.service import Ledger
from workbench.config import Settings, settings
from workbench.db.migrate import migrate_all


def open_ledger(config: Settings | None = None, *, migrate: bool = True) -> Ledger:
    """The configured ledger; with ``migrate``, both schemas brought to head (``migrate_all``)
    and the price catalogue loaded."""
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
            migrate_all(ledger.engine)
            ledger.sync_prices(config.price_catalogue)
        except BaseException:
            ledger.close()
            raise
    return ledger
