"""Health of the money behind the dashboard, for workspace admins and operators: read from the
ledger database itself (not the mirror), because each figure checks the mirror's source.

- open holds, and how many are past their TTL (the sweeper expires those; many means it is not
  running);
- calls on unpriced models: usage rows of calls that got a hold without a price version (the
  gateway refuses unpriced models before any hold, so this must read 0);
- drift: credits captured in the journal against credits in usage rows over the same period
  (both are written in the capture's transaction with the same time, so this must read 0). Usage
  retention deletes old rows but never journal lines, so drift is compared only from the newest
  usage cut-off on (``usage_purge_state.purged_before``): before it the rows may be gone.

Scoped like every analytics figure: an operator sees every workspace (or those filtered), an
admin the workspaces they run; a member sees no health figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ledger import db
from ledger.schema import (
    accounts,
    entries,
    holds,
    usage_purge_state,
    usage_records,
    users,
    workspaces,
)
from ledger.statuses import HoldStatus
from workbench.analytics.filters import Filters
from workbench.analytics.scope import Level, Scope

if TYPE_CHECKING:
    from ledger.service import Ledger

# How many rows each figure's "show the rows" lists at most.
ROWS_SHOWN = 200


@dataclass(frozen=True)
class PastTtlHold:
    id: int
    workspace: str
    username: str
    model: str
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class UnpricedCall:
    id: int
    created_at: datetime
    workspace: str
    username: str
    model: str
    status: str
    credits: int


@dataclass(frozen=True)
class Drift:
    workspace: str
    journal: int  # micro-credits captured in the journal
    usage: int  # micro-credits in usage rows

    @property
    def difference(self) -> int:
        return self.journal - self.usage


@dataclass(frozen=True)
class Health:
    open_holds: int
    past_ttl: list[PastTtlHold]
    unpriced_calls: list[UnpricedCall]
    drift: list[Drift]  # only the workspaces where the two disagree

    @property
    def drift_total(self) -> int:
        return sum(d.difference for d in self.drift)


def health(ledger: Ledger, scope: Scope, filters: Filters, now: datetime) -> Health | None:
    """The figures for the viewer's workspaces (None for a member: not theirs to see)."""
    if scope.level is Level.MEMBER:
        return None
    chosen = _workspaces(scope, filters)
    with db.read_only_connection(ledger.engine) as conn:
        return Health(
            open_holds=_open_holds(conn, chosen),
            past_ttl=_past_ttl(conn, chosen, now),
            unpriced_calls=_unpriced_calls(conn, chosen, filters),
            drift=_drift(conn, chosen, filters),
        )


def _workspaces(scope: Scope, filters: Filters) -> list[int] | None:
    """None: every workspace (an operator without a workspace filter)."""
    wanted = set(filters.workspace_ids) if filters.workspace_ids else None
    if scope.sees_everything:
        return None if wanted is None else sorted(wanted)
    scope.check_workspaces(wanted or ())
    mine = set(scope.managed)
    return sorted(mine if wanted is None else mine & wanted)


def _in(column: Any, chosen: list[int] | None) -> Any:
    return sa.true() if chosen is None else column.in_(chosen)


def _open_holds(conn: Any, chosen: list[int] | None) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(holds.join(accounts, accounts.c.id == holds.c.account_id))
        .where(holds.c.status == HoldStatus.PENDING, _in(accounts.c.workspace_id, chosen))
    )
    return int(conn.execute(query).scalar_one())


def _past_ttl(conn: Any, chosen: list[int] | None, now: datetime) -> list[PastTtlHold]:
    query = (
        sa.select(holds, workspaces.c.slug, users.c.username)
        .join(accounts, accounts.c.id == holds.c.account_id)
        .join(workspaces, workspaces.c.id == accounts.c.workspace_id)
        .join(users, users.c.id == holds.c.user_id)
        .where(
            holds.c.status == HoldStatus.PENDING,
            holds.c.expires_at < now,
            _in(accounts.c.workspace_id, chosen),
        )
        .order_by(holds.c.expires_at)
        .limit(ROWS_SHOWN)
    )
    return [
        PastTtlHold(r.id, r.slug, r.username, r.model, int(r.amount), r.expires_at)
        for r in conn.execute(query)
    ]


def _unpriced_calls(conn: Any, chosen: list[int] | None, filters: Filters) -> list[UnpricedCall]:
    query = (
        sa.select(usage_records, workspaces.c.slug, users.c.username)
        .join(workspaces, workspaces.c.id == usage_records.c.workspace_id)
        .join(users, users.c.id == usage_records.c.user_id)
        .where(
            usage_records.c.hold_id.is_not(None),
            usage_records.c.price_version_id.is_(None),
            usage_records.c.created_at >= filters.start,
            usage_records.c.created_at < filters.end,
            _in(usage_records.c.workspace_id, chosen),
        )
        .order_by(usage_records.c.id.desc())
        .limit(ROWS_SHOWN)
    )
    return [
        UnpricedCall(r.id, r.created_at, r.slug, r.username, r.model, r.status, int(r.credits))
        for r in conn.execute(query)
    ]


def _drift(conn: Any, chosen: list[int] | None, filters: Filters) -> list[Drift]:
    purged_before = conn.execute(
        sa.select(usage_purge_state.c.purged_before).where(usage_purge_state.c.id == 1)
    ).scalar()
    start = filters.start if purged_before is None else max(filters.start, purged_before)
    if start >= filters.end:
        return []
    captured = (
        sa.select(
            accounts.c.workspace_id,
            sa.func.coalesce(sa.func.sum(-entries.c.balance_delta), 0).label("total"),
        )
        .join(accounts, accounts.c.id == entries.c.account_id)
        .where(
            entries.c.kind == "capture",
            entries.c.created_at >= start,
            entries.c.created_at < filters.end,
            _in(accounts.c.workspace_id, chosen),
        )
        .group_by(accounts.c.workspace_id)
    )
    charged = (
        sa.select(
            usage_records.c.workspace_id,
            sa.func.coalesce(sa.func.sum(usage_records.c.credits), 0).label("total"),
        )
        .where(
            usage_records.c.created_at >= start,
            usage_records.c.created_at < filters.end,
            _in(usage_records.c.workspace_id, chosen),
        )
        .group_by(usage_records.c.workspace_id)
    )
    journal = {r.workspace_id: int(r.total) for r in conn.execute(captured)}
    usage = {r.workspace_id: int(r.total) for r in conn.execute(charged)}
    slugs = {r.id: r.slug for r in conn.execute(sa.select(workspaces.c.id, workspaces.c.slug))}
    return [
        Drift(slugs.get(w, f"#{w}"), journal.get(w, 0), usage.get(w, 0))
        for w in sorted(set(journal) | set(usage))
        if journal.get(w, 0) != usage.get(w, 0)
    ]
