"""Admin adjustments: credits in or out by hand, always with the acting admin and a reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from ledger import accounts, grants, journal, owners
from ledger.amounts import credits_text, format_credits
from ledger.errors import InsufficientCredits, NotAMember
from ledger.journal import Entry


def adjust(
    conn: Connection, account_id: int, delta: int, actor_user_id: int, reason: str, now: datetime
) -> int | None:
    """Apply ``delta`` micro-credits; returns the new grant's id when credits went in."""
    account = accounts.lock(conn, account_id)
    member = owners.membership(conn, accounts.workspace_of(conn, account_id), actor_user_id)
    if member is None or member.role != "admin":
        raise NotAMember(
            f"user {actor_user_id} is not an admin of the workspace owning account {account_id}; "
            "only its admins can adjust its credits",
            user_id=actor_user_id,
            account_id=account_id,
        )
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
    if account.next_grant_expiry is not None and account.next_grant_expiry <= now:
        grants.expire_due(conn, account_id, account.held, now)
        account = accounts.read(conn, account_id)
    # Credits promised to running calls stay put: only what is available can be taken back.
    if -delta > account.available:
        raise InsufficientCredits(
            f"cannot take {credits_text(-delta, exact=True)}: only "
            f"{format_credits(account.available, exact=True)} available",
            account_id=account_id,
            available=account.available,
            needed=-delta,
        )
    template = Entry(account_id, "adjustment", actor_user_id=actor_user_id, reason=reason)
    journal.append(conn, grants.consume(conn, account_id, -delta, now, template), now)
    return None
