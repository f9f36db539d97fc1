"""What the admin pages read, each scoped by the viewer's level in the query itself: a workspace
admin sees the workspaces they run, an operator every workspace. A part of ``Ledger``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import audit, authority, grants, journal, owners
from ledger.audit import AuditEvent
from ledger.authority import Actor
from ledger.clock import month_start
from ledger.errors import NotAllowed
from ledger.grants import Grant
from ledger.journal import JournalLine
from ledger.schema import accounts, entries, holds, users, workspaces
from ledger.statuses import HoldStatus
from ledger.transactions import Transactions
from ledger.verify import Mismatch, verify

# The burn rate behind the low-balance banner: what was captured over this many past days.
BURN_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class AccountOverview:
    """One row of Credit admin's accounts table."""

    workspace_id: int
    slug: str
    name: str
    account_id: int
    balance: int
    held: int
    month_spend: int
    low_balance_threshold: int | None
    last_activity: datetime | None

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True)
class OpenHold:
    id: int
    user_id: int
    username: str
    feature_key: str
    model: str
    amount: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LowBalance:
    """A workspace below its threshold: what is left and how long it lasts at the recent rate."""

    available: int
    threshold: int
    # Micro-credits a day over the last 7 days; 0 when nothing was spent.
    per_day: int

    @property
    def days_left(self) -> float | None:
        return None if self.per_day == 0 else self.available / self.per_day


class AdminViews(Transactions):
    def actor(self, user_id: int) -> Actor:
        """The active user with their levels (operator, the workspaces they run)."""
        return self._read(lambda conn: authority.actor(conn, user_id))

    def account_overviews(self, *, actor_user_id: int) -> list[AccountOverview]:
        """Every workspace the viewer may manage, by slug."""

        def work(conn: Connection) -> list[AccountOverview]:
            who = authority.actor(conn, actor_user_id)
            since = month_start(self.now())
            spend = (
                sa.select(sa.func.coalesce(sa.func.sum(-entries.c.balance_delta), 0))
                .where(
                    entries.c.account_id == accounts.c.id,
                    entries.c.kind == "capture",
                    entries.c.created_at >= since,
                )
                .scalar_subquery()
            )
            last = (
                sa.select(sa.func.max(entries.c.created_at))
                .where(entries.c.account_id == accounts.c.id)
                .scalar_subquery()
            )
            query = (
                sa.select(
                    workspaces.c.id,
                    workspaces.c.slug,
                    workspaces.c.name,
                    workspaces.c.low_balance_threshold,
                    accounts.c.id.label("account_id"),
                    accounts.c.balance,
                    accounts.c.held,
                    spend.label("month_spend"),
                    last.label("last_activity"),
                )
                .join(accounts, accounts.c.workspace_id == workspaces.c.id)
                .where(accounts.c.name == "main")
                .order_by(workspaces.c.slug)
            )
            if not who.is_operator:
                query = query.where(workspaces.c.id.in_(sorted(who.admin_of)))
            return [
                AccountOverview(
                    workspace_id=row.id,
                    slug=row.slug,
                    name=row.name,
                    account_id=row.account_id,
                    balance=int(row.balance),
                    held=int(row.held),
                    month_spend=int(row.month_spend),
                    low_balance_threshold=row.low_balance_threshold,
                    last_activity=row.last_activity,
                )
                for row in conn.execute(query)
            ]

        return self._read(work)

    def journal_page(
        self, workspace_id: int, *, actor_user_id: int, **filters: Any
    ) -> list[JournalLine]:
        """A workspace's journal, newest first (``kinds``, ``since``, ``until``, ``before_id``,
        ``limit`` as ``Ledger.history``)."""

        def work(conn: Connection) -> list[JournalLine]:
            authority.require_manager(conn, actor_user_id, workspace_id, "see the journal")
            account_id = owners.workspace_by_id(conn, workspace_id).account_id
            return journal.history(conn, account_id, **filters)

        return self._read(work)

    def open_holds(self, workspace_id: int, *, actor_user_id: int) -> list[OpenHold]:
        """A workspace's pending holds, oldest first."""

        def work(conn: Connection) -> list[OpenHold]:
            authority.require_manager(conn, actor_user_id, workspace_id, "see holds")
            account_id = owners.workspace_by_id(conn, workspace_id).account_id
            query = (
                sa.select(holds, users.c.username)
                .join(users, users.c.id == holds.c.user_id)
                # Through the partial index of pending holds (a literal status, so SQLite can
                # use it; ``+ 0`` keeps it off the account's index, which holds every hold the
                # account ever had), then sorted here: they are few.
                .where(
                    holds.c.status == sa.literal_column(f"'{HoldStatus.PENDING.value}'"),
                    (holds.c.account_id + 0) == account_id,
                )
            )
            return [
                OpenHold(
                    row.id,
                    row.user_id,
                    row.username,
                    row.feature_key,
                    row.model,
                    row.amount,
                    row.created_at,
                    row.expires_at,
                )
                for row in sorted(conn.execute(query), key=lambda r: r.id)
            ]

        return self._read(work)

    def grants_of(self, workspace_id: int, *, actor_user_id: int) -> list[Grant]:
        """A workspace's grants with credits left, newest first."""

        def work(conn: Connection) -> list[Grant]:
            authority.require_manager(conn, actor_user_id, workspace_id, "see grants")
            account_id = owners.workspace_by_id(conn, workspace_id).account_id
            return grants.of_account(conn, account_id)

        return self._read(work)

    def audit_trail(
        self,
        *,
        actor_user_id: int,
        workspace_id: int | None = None,
        action: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Audit events newest first: a workspace's (its admins and operators), or every event
        (operators only, ``workspace_id`` None)."""

        def work(conn: Connection) -> list[AuditEvent]:
            if workspace_id is None:
                authority.require_operator(conn, actor_user_id, "see every workspace's audit")
                scope = None
            else:
                authority.require_manager(conn, actor_user_id, workspace_id, "see the audit")
                scope = frozenset({workspace_id})
            return audit.events(
                conn,
                workspace_ids=scope,
                action=action,
                limit=max(1, min(limit, 1000)),
                offset=max(0, offset),
            )

        return self._read(work)

    def verify_for(self, *, actor_user_id: int) -> list[Mismatch]:
        """``verify`` as the viewer may see it: every finding for an operator, the findings on
        the accounts of their workspaces for a workspace admin."""

        def work(conn: Connection) -> list[Mismatch]:
            who = authority.actor(conn, actor_user_id)
            if not who.is_operator and not who.admin_of:
                raise NotAllowed(
                    f"only workspace admins and operators may verify the ledger; {who.username} "
                    "is neither",
                    actor_user_id=actor_user_id,
                    action="verify the ledger",
                )
            findings = verify(conn)
            if who.is_operator:
                return findings
            mine = set(
                conn.execute(
                    sa.select(accounts.c.id).where(accounts.c.workspace_id.in_(who.admin_of))
                ).scalars()
            )
            return [finding for finding in findings if finding.account_id in mine]

        return self._read(work)

    def low_balance(self, workspace_id: int) -> LowBalance | None:
        """The workspace's warning, if its available credits are below its threshold."""

        def work(conn: Connection) -> LowBalance | None:
            row = conn.execute(
                sa.select(
                    workspaces.c.low_balance_threshold,
                    accounts.c.id,
                    accounts.c.balance,
                    accounts.c.held,
                )
                .join(accounts, accounts.c.workspace_id == workspaces.c.id)
                .where(workspaces.c.id == workspace_id, accounts.c.name == "main")
            ).first()
            if row is None or row.low_balance_threshold is None:
                return None
            available = int(row.balance) - int(row.held)
            if available >= row.low_balance_threshold:
                return None
            spent = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(-entries.c.balance_delta), 0)).where(
                    entries.c.account_id == row.id,
                    entries.c.kind == "capture",
                    entries.c.created_at >= self.now() - BURN_WINDOW,
                )
            ).scalar_one()
            per_day = -(-int(spent) // BURN_WINDOW.days)  # rounded up: never overstate the days
            return LowBalance(available, int(row.low_balance_threshold), per_day)

        return self._read(work)
