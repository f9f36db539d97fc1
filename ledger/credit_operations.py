"""What the people who run the workbench do to its money: credits in and out (operators) and
holds released by hand (workspace admins and operators). A part of ``Ledger``.

Every operation names its acting user, checks that user's level itself (``ledger.authority``:
the pages only hide what a person may not do) and writes one audit event in the transaction of
the change. Money operations are idempotent by key, like every other: one key per confirmation,
so a double click or a rerun does it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from ledger import accounts, adjustments, audit, authority, grants, holds, journal, owners
from ledger.accounts import Balance
from ledger.amounts import check_amount, credits_text, format_credits, request_identity
from ledger.errors import InsufficientCredits, InvalidInput
from ledger.idempotency import KeyCheck
from ledger.journal import Entry
from ledger.outcomes import (
    AdjustmentOutcome,
    GrantOutcome,
    HoldOutcome,
    adjustment_from_json,
    grant_from_json,
    hold_to_json,
    plain_to_json,
)
from ledger.transactions import Transactions, check_id, check_reason


def _money(balance: Balance) -> dict[str, Any]:
    return {"balance": balance.balance, "held": balance.held, "available": balance.available}


def audited_grant(
    conn: Connection,
    action: str,
    account_id: int,
    amount: int,
    kind: str,
    now: datetime,
    *,
    expires_at: datetime | None,
    priority: int | None,
    actor_user_id: int | None,
    reason: str | None,
    reference: str | None = None,
) -> int:
    """A grant under the account lock and its audit event (``action``) with the money before and
    after: the one way credits come in, whether a person's top-up or the system's grant."""
    before = accounts.lock(conn, account_id)
    grant_id = grants.create(
        conn,
        account_id,
        amount,
        kind,
        now,
        expires_at=expires_at,
        priority=priority,
        actor_user_id=actor_user_id,
        reason=reason,
        reference=reference,
    )
    audit.record(
        conn,
        actor_user_id=actor_user_id,
        action=action,
        workspace_id=accounts.workspace_of(conn, account_id),
        target_kind="grant",
        target=grant_id,
        reason=reason,
        before=_money(before),
        after={**_money(accounts.read(conn, account_id)), "kind": kind},
        now=now,
    )
    return grant_id


class CreditOperations(Transactions):
    # --- credits in and out (operators) -----------------------------------------------------

    def top_up(
        self,
        workspace_id: int,
        amount: int,
        *,
        kind: str,
        actor_user_id: int,
        reason: str,
        key: str,
        expires_at: datetime | None = None,
        priority: int | None = None,
    ) -> GrantOutcome:
        """Credits into a workspace (``amount`` micro-credits as a grant of ``kind``): operators
        only, with a reason; once per ``key``."""
        check_id(workspace_id, "workspace id")
        check_id(actor_user_id, "acting user id")
        terms = grants.check_terms(amount, kind, expires_at, priority)
        reason = check_reason(reason)
        params = {
            "workspace_id": workspace_id,
            **terms,
            "actor": actor_user_id,
            "reason": reason,
        }

        def work(conn: Connection, check: KeyCheck, now: datetime) -> GrantOutcome:
            check.lookup(conn)
            authority.require_operator(conn, actor_user_id, "top up credits")
            grants.refuse_past_expiry(expires_at, now)
            account_id = owners.workspace_by_id(conn, workspace_id).account_id
            grant_id = audited_grant(
                conn,
                "credits.top_up",
                account_id,
                amount,
                kind,
                now,
                expires_at=expires_at,
                priority=priority,
                actor_user_id=actor_user_id,
                reason=reason,
            )
            return GrantOutcome(False, grant_id, account_id, amount, kind, expires_at)

        return self._idempotent("top_up", key, params, work, plain_to_json, grant_from_json)

    def take_back(
        self, workspace_id: int, amount: int, *, actor_user_id: int, reason: str, key: str
    ) -> AdjustmentOutcome:
        """Credits out of a workspace by hand (a downward adjustment, in spend order): operators
        only, with a reason; never more than is available (credits of running calls stay)."""
        check_id(workspace_id, "workspace id")
        check_id(actor_user_id, "acting user id")
        check_amount(amount)
        reason = check_reason(reason)
        params = {
            "workspace_id": workspace_id,
            "amount": request_identity(amount),
            "actor": actor_user_id,
            "reason": reason,
        }

        def work(conn: Connection, check: KeyCheck, now: datetime) -> AdjustmentOutcome:
            check.lookup(conn)
            authority.require_operator(conn, actor_user_id, "take credits back")
            account_id = owners.workspace_by_id(conn, workspace_id).account_id
            before = accounts.lock(conn, account_id)
            adjustments.take(conn, account_id, amount, actor_user_id, reason, now)
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="credits.take_back",
                workspace_id=workspace_id,
                target_kind="workspace",
                target=workspace_id,
                reason=reason,
                before=_money(before),
                after=_money(accounts.read(conn, account_id)),
                now=now,
            )
            return AdjustmentOutcome(False, account_id, -amount, None)

        return self._idempotent("take_back", key, params, work, plain_to_json, adjustment_from_json)

    def void_grant(
        self, grant_id: int, *, actor_user_id: int, reason: str, key: str
    ) -> AdjustmentOutcome:
        """Void what is left of a grant: one compensating ``adjustment`` line naming it (the grant
        itself is never edited). Operators only. Refused while the credits are promised to
        running calls (the remainder is more than is available)."""
        check_id(grant_id, "grant id")
        check_id(actor_user_id, "acting user id")
        reason = check_reason(reason)
        params = {"grant_id": grant_id, "actor": actor_user_id, "reason": reason}

        def work(conn: Connection, check: KeyCheck, now: datetime) -> AdjustmentOutcome:
            check.lookup(conn)
            authority.require_operator(conn, actor_user_id, "void a grant")
            grant = grants.read(conn, grant_id)
            before = accounts.lock(conn, grant.account_id)
            remaining = grants.read(conn, grant_id).remaining  # under the account lock
            if remaining == 0:
                raise InvalidInput(f"grant {grant_id} has nothing left to void")
            if remaining > before.available:
                raise InsufficientCredits(
                    f"cannot void {credits_text(remaining, exact=True)} of grant {grant_id}: "
                    f"only {format_credits(before.available, exact=True)} is available (the rest "
                    "backs running calls; try again when they finish)",
                    account_id=grant.account_id,
                    available=before.available,
                    needed=remaining,
                )
            line = Entry(
                grant.account_id,
                "adjustment",
                balance_delta=-remaining,
                grant_id=grant_id,
                actor_user_id=actor_user_id,
                reason=reason,
            )
            journal.append(conn, [line], now)
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="credits.void_grant",
                workspace_id=accounts.workspace_of(conn, grant.account_id),
                target_kind="grant",
                target=grant_id,
                reason=reason,
                before={**_money(before), "grant_remaining": remaining},
                after={**_money(accounts.read(conn, grant.account_id)), "grant_remaining": 0},
                now=now,
            )
            return AdjustmentOutcome(False, grant.account_id, -remaining, grant_id)

        return self._idempotent(
            "void_grant", key, params, work, plain_to_json, adjustment_from_json
        )

    # --- holds (workspace admins and operators) ---------------------------------------------

    def force_release(
        self, hold_id: int, *, actor_user_id: int, reason: str, key: str
    ) -> HoldOutcome:
        """Give a pending hold back by hand (a call that will never settle), with a reason."""
        check_id(hold_id, "hold id")
        check_id(actor_user_id, "acting user id")
        reason = check_reason(reason)
        params = {"hold_id": hold_id, "actor": actor_user_id, "reason": reason}

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            check.lookup(conn)
            hold = holds.read(conn, hold_id)
            workspace_id = accounts.workspace_of(conn, hold.account_id)
            authority.require_manager(conn, actor_user_id, workspace_id, "release a hold")
            released = holds.release(conn, check, hold_id, f"released by hand: {reason}", now)
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="hold.force_release",
                workspace_id=workspace_id,
                target_kind="hold",
                target=hold_id,
                reason=reason,
                before={"status": hold.status, "amount": hold.amount},
                after={"status": released.status},
                now=now,
            )
            return HoldOutcome(False, released)

        return self._idempotent(
            "force_release", key, params, work, hold_to_json, self._replayed_hold
        )
