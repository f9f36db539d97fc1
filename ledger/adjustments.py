"""Adjustments: credits in or out by hand, always by an operator with a reason, and audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from ledger import accounts, audit, authority, grants, journal
from ledger.amounts import credits_text, format_credits
from ledger.errors import InsufficientCredits
from ledger.journal import Entry


def adjust(
    conn: Connection, account_id: int, delta: int, actor_user_id: int, reason: str, now: datetime
) -> int | None:
    """Apply ``delta`` micro-credits; returns the new grant's id when credits went in. Operators
    only: a workspace admin cannot give their own workspace credits."""
    authority.require_operator(conn, actor_user_id, "adjust credits")
    before = accounts.lock(conn, account_id)
    workspace_id = accounts.workspace_of(conn, account_id)
    grant_id = _apply(conn, account_id, delta, actor_user_id, reason, now)
    after = accounts.read(conn, account_id)
    audit.record(
        conn,
        actor_user_id=actor_user_id,
        action="credits.adjust",
        workspace_id=workspace_id,
        target_kind="workspace" if grant_id is None else "grant",
        target=workspace_id if grant_id is None else grant_id,
        reason=reason,
        before={"balance": before.balance, "available": before.available},
        after={"balance": after.balance, "available": after.available, "delta": delta},
        now=now,
    )
    return grant_id


def _apply(
    conn: Connection, account_id: int, delta: int, actor_user_id: int, reason: str, now: datetime
) -> int | None:
    if delta > 0:
        return grants.create(
            conn,
            account_id,
            delta,
            "adjustment",
            now,
            actor_user_id=actor_user_id,
            reason=reason,
            entry_kind="adjustment",
        )
    take(conn, account_id, -delta, actor_user_id, reason, now)
    return None


def take(
    conn: Connection, account_id: int, amount: int, actor_user_id: int, reason: str, now: datetime
) -> None:
    """Take ``amount`` micro-credits out, in spend order; the caller holds the account lock."""
    account = accounts.read(conn, account_id)
    if account.next_grant_expiry is not None and account.next_grant_expiry <= now:
        grants.expire_due(conn, account_id, account.held, now)
        account = accounts.read(conn, account_id)
    # Credits promised to running calls stay put: only what is available can be taken back.
    if amount > account.available:
        raise InsufficientCredits(
            f"cannot take {credits_text(amount, exact=True)}: only "
            f"{format_credits(account.available, exact=True)} available",
            account_id=account_id,
            available=account.available,
            needed=amount,
        )
    template = Entry(account_id, "adjustment", actor_user_id=actor_user_id, reason=reason)
    journal.append(conn, grants.consume(conn, account_id, amount, now, template), now)
