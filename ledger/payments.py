"""Money from outside the ledger: a payment becomes exactly one grant, and a refund or a lost
dispute takes its credits back, once.

Both run inside a transaction the caller opened (the billing code stores the payment event that
caused them in the same one), under the account lock, and both name the outside object in the
grant and in every journal line (``reference``, e.g. ``stripe:cs_…``).

- ``credit``: the grant is unique by reference (a unique index): the same payment reported by two
  events, or by the webhook and the success page, is credited once; the second call finds the
  first grant.
- ``take_back``: credits are taken first from the payment's own grant, then in spend order, but
  never those reserved by running calls; whatever was already spent becomes **debt**
  (``accounts.debt``): the account's net balance goes below zero and the next credits in repay it
  first (``ledger.grants``). Nothing is lost and nothing is taken twice: the caller decides how
  much is still to be taken back (it knows what earlier refunds of the payment took).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import accounts, audit, grants, journal
from ledger.amounts import check_amount
from ledger.credit_operations import audited_grant
from ledger.errors import InvalidInput
from ledger.journal import Entry
from ledger.schema import grants as grants_table

MAX_REFERENCE = 255


@dataclass(frozen=True)
class Credited:
    grant_id: int
    # False when an earlier call already credited this payment (nothing was added now).
    created: bool


@dataclass(frozen=True)
class TakenBack:
    # Credits taken from the account's grants, and credits that became debt (both micro-credits).
    taken: int
    owed: int


def check_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInput("a payment needs a reference (the outside object it is for)")
    if len(reference) > MAX_REFERENCE:
        raise InvalidInput(f"reference is longer than {MAX_REFERENCE} characters")
    return reference


def grant_for(conn: Connection, reference: str) -> int | None:
    """The grant that credited ``reference``, if any."""
    found = conn.execute(
        sa.select(grants_table.c.id).where(grants_table.c.reference == reference)
    ).scalar()
    return None if found is None else int(found)


def credit(
    conn: Connection,
    account_id: int,
    amount: int,
    kind: str,
    now: datetime,
    *,
    reference: str,
    reason: str,
    expires_at: datetime | None = None,
    actor_user_id: int | None = None,
) -> Credited:
    """Credit a payment once: a grant of ``amount`` micro-credits of ``kind`` named by
    ``reference``, with its audit event; or the grant an earlier call made for it."""
    check_amount(amount)
    grants.check_kind(kind)
    check_reference(reference)
    grants.refuse_past_expiry(expires_at, now)
    # Under the account lock, so two transactions crediting the same payment queue here and the
    # second finds the first's grant (the unique index is the backstop).
    accounts.lock(conn, account_id)
    existing = grant_for(conn, reference)
    if existing is not None:
        return Credited(existing, created=False)
    grant_id = audited_grant(
        conn,
        "credits.payment",
        account_id,
        amount,
        kind,
        now,
        expires_at=expires_at,
        priority=None,
        actor_user_id=actor_user_id,
        reason=reason,
        reference=reference,
    )
    return Credited(grant_id, created=True)


def take_back(
    conn: Connection,
    account_id: int,
    amount: int,
    now: datetime,
    *,
    reference: str,
    paid_by: str | None,
    reason: str,
) -> TakenBack:
    """Take ``amount`` micro-credits back for a refund or a lost dispute (``reference`` names it;
    ``paid_by`` the payment whose grant is drawn on first). Never refused for want of credits:
    what cannot be taken becomes debt. Audited as ``credits.reversal``."""
    check_amount(amount)
    check_reference(reference)
    before = accounts.lock(conn, account_id)
    if before.next_grant_expiry is not None and before.next_grant_expiry <= now:
        grants.expire_due(conn, account_id, before.held, now)
    account = accounts.read(conn, account_id)
    own = grant_for(conn, paid_by) if paid_by else None
    # Credits reserved by running calls stay with them (as a hand take-back leaves them).
    takeable = min(amount, account.available)
    template = Entry(account_id, "refund", reason=reason, reference=reference)
    lines = grants.consume(conn, account_id, takeable, now, template, first=own)
    owed = amount - takeable
    if owed:
        lines.append(
            Entry(account_id, "refund", debt_delta=owed, reason=reason, reference=reference)
        )
    journal.append(conn, lines, now)
    after = accounts.read(conn, account_id)
    audit.record(
        conn,
        actor_user_id=None,
        action="credits.reversal",
        workspace_id=accounts.workspace_of(conn, account_id),
        target_kind="workspace",
        target=accounts.workspace_of(conn, account_id),
        reason=reason,
        before={"balance": before.balance, "available": before.available, "debt": before.debt},
        after={
            "balance": after.balance,
            "available": after.available,
            "debt": after.debt,
            "reference": reference,
        },
        now=now,
    )
    return TakenBack(taken=takeable, owed=owed)
