"""The daily sums of purged usage rows (the ledger's ``purged_usage_daily``), added to in the
transaction that deletes the rows.

The sums are those of the analytics rollup (``workbench.analytics.rollups``), computed here in
Python from the deleted rows themselves (``DELETE … RETURNING``), so they are exactly the rows
this transaction removed. Each batch raises ``usage_purge_state.generation`` first: the row lock
queues concurrent batches, and the days a batch touches carry its number for the mirrors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ledger.schema import PURGED_USAGE_MEASURES, purged_usage_daily, usage_purge_state

KEY: Final = ("day", "workspace_id", "user_id", "model", "feature_key", "provider", "status")
# The usage columns the sums need (what ``DELETE … RETURNING`` brings back).
COLUMNS: Final = (
    "created_at",
    "workspace_id",
    "user_id",
    "model",
    "feature_key",
    "provider",
    "status",
    "credits",
    "usd_cost_nanos",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "images",
    "latency_ms",
)
# Rows per INSERT: far below SQLite's limit on bound values (19 a row).
_INSERT_ROWS: Final = 500


def sums(rows: Iterable[Any]) -> dict[tuple[Any, ...], dict[str, int]]:
    """Per (UTC day, workspace, user, model, feature, provider, status), the measures of
    ``PURGED_USAGE_MEASURES`` over ``rows`` (usage rows with ``COLUMNS``)."""
    found: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in rows:
        day: date = row.created_at.astimezone(UTC).date()
        key = (day, row.workspace_id, row.user_id, row.model, row.feature_key, row.provider)
        into = found.setdefault((*key, row.status), dict.fromkeys(PURGED_USAGE_MEASURES, 0))
        cost = row.usd_cost_nanos
        into["requests"] += 1
        into["credits"] += row.credits
        into["usd_cost_nanos"] += cost or 0
        into["usd_cost_unknown"] += int(cost is None)
        into["credits_costed"] += row.credits if cost is not None else 0
        into["input_tokens"] += row.input_tokens
        into["output_tokens"] += row.output_tokens
        into["cached_tokens"] += row.cached_tokens
        into["images"] += row.images
        into["latency_ms_sum"] += row.latency_ms or 0
        into["latency_count"] += int(row.latency_ms is not None)
    return found


def next_generation(conn: Connection, cutoff: datetime) -> int:
    """Raise the purge count (locking its row until this transaction ends) and move the newest
    cut-off forward to ``cutoff``; the batch's number."""
    row = conn.execute(
        usage_purge_state.update()
        .where(usage_purge_state.c.id == 1)
        .values(generation=usage_purge_state.c.generation + 1)
        .returning(usage_purge_state.c.generation, usage_purge_state.c.purged_before)
    ).one()
    if row.purged_before is None or row.purged_before < cutoff:
        conn.execute(
            usage_purge_state.update()
            .where(usage_purge_state.c.id == 1)
            .values(purged_before=cutoff)
        )
    return int(row.generation)


def add(conn: Connection, found: dict[tuple[Any, ...], dict[str, int]], generation: int) -> None:
    """Add ``found`` (from ``sums``) to the table, stamping the rows with ``generation``."""
    rows = [
        {**dict(zip(KEY, key, strict=True)), **measures, "generation": generation}
        for key, measures in found.items()
    ]
    for start in range(0, len(rows), _INSERT_ROWS):
        conn.execute(_upsert(conn, rows[start : start + _INSERT_ROWS]))


def _upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> sa.Executable:
    """INSERT … ON CONFLICT (the key) DO UPDATE adding the measures, on either backend."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        purged_usage_daily
    ).values(list(rows))
    table = purged_usage_daily.c
    added: dict[str, Any] = {
        name: table[name] + getattr(insert.excluded, name) for name in PURGED_USAGE_MEASURES
    }
    added["generation"] = insert.excluded.generation
    return insert.on_conflict_do_update(index_elements=list(KEY), set_=added)
