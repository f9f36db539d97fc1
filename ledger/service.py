"""``Ledger``: the ledger's public face. One method per operation, each its own transaction.

Mutating money operations take a caller-supplied idempotency ``key``. The method validates its
arguments before touching the database (bad input raises and writes nothing), then, in one write
transaction: looks the key up (replay or conflict), does the work, and stores the outcome with the
key. Refusals that depend on the ledger's state (``InsufficientCredits``, ``CapExceeded``, a hold
no longer pending, a capture above the hold) are stored too, so a replay refuses the same way.

Every amount taken or returned is an ``int`` of micro-credits (``ledger.amounts``: 1 credit =
1,000,000); amounts enter a request's identity in credits (``request_identity``), so keys stored
before amounts became micro-credits still match the same request.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from ledger import (
    accounts,
    adjustments,
    db,
    grants,
    holds,
    journal,
    owners,
    ratelimits,
)
from ledger import usage as usage_rows
from ledger.accounts import Balance
from ledger.admin_views import AdminViews
from ledger.amounts import check_amount, request_identity
from ledger.catalogue_operations import CatalogueOperations
from ledger.clock import database_now
from ledger.credit_operations import CreditOperations, audited_grant
from ledger.errors import InvalidInput
from ledger.features import operation_type
from ledger.holds import Hold
from ledger.idempotency import KeyCheck
from ledger.journal import JournalLine
from ledger.member_operations import MemberOperations
from ledger.outcomes import (
    AdjustmentOutcome,
    GrantOutcome,
    HoldOutcome,
    Outcome,
    SweepReport,
    adjustment_from_json,
    grant_from_json,
    hold_to_json,
    plain_to_json,
)
from ledger.owners import Membership, User, Workspace
from ledger.ratelimits import RateLimits
from ledger.transactions import (
    DEFAULT_HOLD_TTL,
    MAX_HOLD_TTL,
    Transactions,
    check_id,
    check_reason,
)
from ledger.usage import CallUsage, ImageCallRow, UsageIdentity, UsageRow
from ledger.verify import Mismatch, verify

__all__ = [
    "DEFAULT_HOLD_TTL",
    "MAX_HOLD_TTL",
    "AdjustmentOutcome",
    "GrantOutcome",
    "HoldOutcome",
    "Ledger",
    "Outcome",
    "SweepReport",
    "Transactions",
]


class Ledger(CreditOperations, MemberOperations, AdminViews, CatalogueOperations):
    """The credit ledger over one database (SQLite file or PostgreSQL): owners, money in, the
    two-phase spend, usage rows, the sweeper and reads here; transactions and idempotency in
    ``Transactions``, prices and switches in ``CatalogueOperations``, the admins' actions in
    ``CreditOperations`` and ``MemberOperations``, what the admin pages read in ``AdminViews``."""

    # --- owners ----------------------------------------------------------------------------

    def create_workspace(self, slug: str, name: str = "") -> Workspace:
        return self._write(lambda conn, now: owners.create_workspace(conn, slug, name, now))

    def create_user(self, username: str, display_name: str = "", email: str | None = None) -> User:
        return self._write(
            lambda conn, now: owners.create_user(conn, username, display_name, now, email)
        )

    def add_member(
        self, workspace_id: int, user_id: int, role: str, monthly_cap: int | None = None
    ) -> Membership:
        return self._write(
            lambda conn, now: owners.add_member(conn, workspace_id, user_id, role, now, monthly_cap)
        )

    def set_monthly_cap(self, workspace_id: int, user_id: int, cap: int | None) -> None:
        self._write(lambda conn, _now: owners.set_monthly_cap(conn, workspace_id, user_id, cap))

    def workspace(self, slug: str) -> Workspace:
        return self._read(lambda conn: owners.workspace_by_slug(conn, slug))

    def workspaces(self) -> list[Workspace]:
        return self._read(owners.all_workspaces)

    def workspace_by_id(self, workspace_id: int) -> Workspace:
        return self._read(lambda conn: owners.workspace_by_id(conn, workspace_id))

    def user(self, username: str) -> User:
        return self._read(lambda conn: owners.user_by_name(conn, username))

    def memberships_of(self, user_id: int) -> list[tuple[Workspace, Membership]]:
        return self._read(lambda conn: owners.memberships_of(conn, user_id))

    def members_of(self, workspace_id: int) -> list[tuple[User, Membership]]:
        return self._read(lambda conn: owners.members_of(conn, workspace_id))

    def user_by_email(self, email: str) -> User:
        return self._read(lambda conn: owners.user_by_email(conn, email))

    def is_active(self, user_id: int) -> bool:
        return self._read(lambda conn: owners.is_active(conn, user_id))

    def user_by_id(self, user_id: int) -> User:
        return self._read(lambda conn: owners.user_by_id(conn, user_id))

    def membership(self, workspace_id: int, user_id: int) -> Membership | None:
        return self._read(lambda conn: owners.membership(conn, workspace_id, user_id))

    # --- money in --------------------------------------------------------------------------

    def grant(
        self,
        account_id: int,
        amount: int,
        *,
        kind: str,
        key: str,
        expires_at: datetime | None = None,
        priority: int | None = None,
        actor_user_id: int | None = None,
        reason: str | None = None,
    ) -> GrantOutcome:
        """``amount`` micro-credits in (``ledger.amounts.credits(5)`` for 5 credits). ``kind``:
        paid, plan, promo or adjustment; spent by priority, then expiry.

        The system's way in (seeds, payments, the command line without --by), audited with
        ``actor_user_id`` as given. A person's top-up goes through ``top_up``, which checks that
        they are an operator."""
        check_id(account_id, "account id")
        params = {
            "account_id": account_id,
            **grants.check_terms(amount, kind, expires_at, priority),
            "actor_user_id": actor_user_id,
            "reason": reason,
        }

        def work(conn: Connection, check: KeyCheck, now: datetime) -> GrantOutcome:
            check.lookup(conn)
            grants.refuse_past_expiry(expires_at, now)
            grant_id = audited_grant(
                conn,
                "credits.grant",
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

        return self._idempotent("grant", key, params, work, plain_to_json, grant_from_json)

    def adjust(
        self, account_id: int, delta: int, *, actor_user_id: int, reason: str, key: str
    ) -> AdjustmentOutcome:
        """An admin's correction of ``delta`` micro-credits: in (as an ``adjustment`` grant) or
        out, with a reason."""
        check_id(account_id, "account id")
        check_id(actor_user_id, "acting user id")
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise InvalidInput(f"adjustment must be a non-zero whole number, got {delta!r:.40}")
        check_amount(abs(delta), "adjustment")
        reason = check_reason(reason)
        params = {
            "account_id": account_id,
            "delta": request_identity(delta),
            "actor": actor_user_id,
            "reason": reason,
        }

        def work(conn: Connection, check: KeyCheck, now: datetime) -> AdjustmentOutcome:
            check.lookup(conn)
            grant_id = adjustments.adjust(conn, account_id, delta, actor_user_id, reason, now)
            return AdjustmentOutcome(False, account_id, delta, grant_id)

        return self._idempotent("adjust", key, params, work, plain_to_json, adjustment_from_json)

    # --- two-phase spend -------------------------------------------------------------------

    def reserve(
        self,
        account_id: int,
        *,
        user_id: int,
        feature_key: str,
        model: str,
        amount: int,
        key: str,
        ttl: timedelta | None = None,
        limits: RateLimits | None = None,
        fingerprint: str | None = None,
    ) -> HoldOutcome:
        """Put a hold on ``amount`` micro-credits for one call. Commit before calling any provider.

        With ``limits``, the user's rate limits are checked in the same transaction
        (``RateLimited``); a replay of a key already used is answered before any limit applies.
        ``fingerprint`` stands for what the hold pays for (a digest of the prompt, say): it is
        part of the request's identity, so reusing the key for another prompt is a conflict.
        """
        check_id(account_id, "account id")
        check_id(user_id, "user id")
        op = operation_type(feature_key)
        if not isinstance(model, str) or not model.strip() or len(model) > 200:
            raise InvalidInput(f"model must be a non-empty name, got {model!r:.60}")
        check_amount(amount)
        ttl = self.hold_ttl if ttl is None else ttl
        if not isinstance(ttl, timedelta) or not timedelta(0) < ttl <= MAX_HOLD_TTL:
            raise InvalidInput(f"hold TTL must be between 0 and {MAX_HOLD_TTL}, got {ttl!r:.40}")
        params = {
            "account_id": account_id,
            "user_id": user_id,
            "feature_key": feature_key,
            "model": model,
            "amount": request_identity(amount),
            "ttl": ttl.total_seconds(),
        }
        if fingerprint is not None:
            params["fingerprint"] = fingerprint

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            if limits is not None:
                check.lookup(conn)
                ratelimits.enforce(conn, user_id, limits, now)
            hold = holds.reserve(
                conn,
                check,
                account_id=account_id,
                user_id=user_id,
                feature_key=feature_key,
                operation_type=op.value,
                model=model,
                amount=amount,
                ttl=ttl,
                now=now,
            )
            return HoldOutcome(False, hold)

        return self._idempotent("reserve", key, params, work, hold_to_json, self._replayed_hold)

    def capture(
        self, hold_id: int, amount: int, *, key: str, usage: CallUsage | None = None
    ) -> HoldOutcome:
        """Charge ``amount`` micro-credits (at most the hold) and release the rest, in one
        transaction.

        ``usage``, when given, is written in that transaction as the call's usage row, with the
        identity and the credits of the hold (``UsageIdentity.of_hold``). It is not part of the
        request's identity: a replay returns the first outcome whatever it says.
        """
        check_id(hold_id, "hold id")
        check_amount(amount, "capture amount", allow_zero=True)
        if usage is not None:
            usage.check()
        params = {"hold_id": hold_id, "amount": request_identity(amount)}

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            hold = holds.capture(conn, check, hold_id, amount, now)
            if usage is not None:
                usage_rows.insert_for_hold(conn, hold, usage, now)
            return HoldOutcome(False, hold)

        return self._idempotent("capture", key, params, work, hold_to_json, self._replayed_hold)

    def release(
        self, hold_id: int, *, reason: str, key: str, usage: CallUsage | None = None
    ) -> HoldOutcome:
        """Give the whole hold back, saying why (shown to the user as a ledger line).

        ``usage`` as for :meth:`capture`, with zero credits.
        """
        check_id(hold_id, "hold id")
        reason = check_reason(reason)
        if usage is not None:
            usage.check()
        params = {"hold_id": hold_id, "reason": reason}

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            hold = holds.release(conn, check, hold_id, reason, now)
            if usage is not None:
                usage_rows.insert_for_hold(conn, hold, usage, now)
            return HoldOutcome(False, hold)

        return self._idempotent("release", key, params, work, hold_to_json, self._replayed_hold)

    # --- usage -----------------------------------------------------------------------------

    def record_refusal(
        self, *, account_id: int, user_id: int, feature_key: str, model: str, usage: CallUsage
    ) -> int:
        """The usage row of a request refused before any hold (no credits, a cap, a rate limit,
        an unpriced model, a feature switched off): zero credits, its workspace the account's.
        Returns the row's id."""
        check_id(account_id, "account id")
        check_id(user_id, "user id")
        usage.check()
        identity = UsageIdentity.of_refusal(
            user_id=user_id, account_id=account_id, feature_key=feature_key, model=model
        )
        return self._write(lambda conn, now: usage_rows.insert(conn, identity, usage, now))

    def record_timeout(self, hold_id: int, usage: CallUsage) -> int:
        """The usage row of a call that timed out: its outcome is unknown, so its hold stays
        pending until it expires (or is reconciled); the row has the hold's identity."""
        check_id(hold_id, "hold id")
        usage.check()

        def work(conn: Connection, now: datetime) -> int:
            return usage_rows.insert_for_hold(conn, holds.read(conn, hold_id), usage, now)

        return self._write(work)

    def usage_for_hold(self, hold_id: int) -> UsageRow | None:
        return self._read(lambda conn: usage_rows.for_hold(conn, hold_id))

    def recent_usage(
        self, *, user_id: int | None = None, workspace_id: int | None = None, limit: int = 100
    ) -> list[UsageRow]:
        return self._read(
            lambda conn: usage_rows.recent(
                conn, user_id=user_id, workspace_id=workspace_id, limit=limit
            )
        )

    def image_calls(
        self,
        *,
        workspace_id: int,
        user_id: int | None = None,
        before_id: int | None = None,
        since: datetime | None = None,
        limit: int = 25,
    ) -> list[ImageCallRow]:
        """A page of calls that kept images, newest first, with their makers (``usage``)."""
        return self._read(
            lambda conn: usage_rows.image_calls(
                conn,
                workspace_id=workspace_id,
                user_id=user_id,
                before_id=before_id,
                since=since,
                limit=limit,
            )
        )

    def sweep(self, limit: int = 1000) -> SweepReport:
        """Expire pending holds past their TTL and due grants, by the database's clock.

        Safe to run in several processes at once: each hold ends at most once.
        """
        with db.read_only_connection(self.engine) as conn:
            now = self._clock() if self._clock else database_now(conn)
            due = holds.expired_pending(conn, now, limit)
            grant_accounts = accounts.due_for_grant_expiry(conn, now)
        by_account: dict[int, list[int]] = defaultdict(list)
        for account_id, hold_id in due:
            by_account[account_id].append(hold_id)
        for account_id in grant_accounts:
            by_account.setdefault(account_id, [])
        expired_holds = expired_credits = 0
        for account_id in sorted(by_account):
            with db.write_transaction(self.engine) as conn:
                ended, credits = holds.sweep_account(conn, account_id, by_account[account_id], now)
            expired_holds += ended
            expired_credits += credits
        return SweepReport(expired_holds, expired_credits, len(by_account))

    # --- reads -----------------------------------------------------------------------------

    def balance(self, account_id: int) -> Balance:
        return self._read(lambda conn: accounts.read(conn, account_id))

    def hold(self, hold_id: int) -> Hold:
        return self._read(lambda conn: holds.read(conn, hold_id))

    def history(self, account_id: int, **filters: Any) -> list[JournalLine]:
        def work(conn: Connection) -> list[JournalLine]:
            accounts.read(conn, account_id)
            return journal.history(conn, account_id, **filters)

        return self._read(work)

    def month_spend(self, account_id: int, user_id: int) -> int:
        return self._read(lambda conn: holds.month_spend(conn, account_id, user_id, self.now()))

    def verify(self) -> list[Mismatch]:
        return self._read(verify)
