"""One purge at a time per database, across every replica.

On PostgreSQL a session advisory lock (``pg_try_advisory_lock``), held on a connection of its own
for the whole run: a purge started on another replica meanwhile finds it taken and does nothing
(a cron entry on every replica is fine), and the lock goes with the connection if the process
dies. Why a lock when every batch is already safe by its row conditions (``DELETE … RETURNING``,
``FOR UPDATE`` and a re-checked cut-off, so nothing is removed or counted twice): two runs would
walk the same tables for nothing, and each run's audit event would then name only part of what
the two removed. SQLite takes its writers one at a time anyway (``BEGIN IMMEDIATE``) and serves
one host; there the row conditions alone keep two runs apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# Any fixed number, distinct from the migrations' (ledger.db): "WBPR", workbench purge.
PURGE_LOCK: Final = 0x5742_5052


@contextmanager
def only_purge(engine: Engine) -> Iterator[bool]:
    """True while this process holds the purge lock; False when another purge has it."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        taken = bool(
            conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": PURGE_LOCK}
            ).scalar_one()
        )
        conn.commit()  # a session lock: it outlives the transaction, which must not stay open
        try:
            yield taken
        finally:
            if taken:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": PURGE_LOCK})
                conn.commit()
