"""Recompute every account from the journal and report each place the books disagree.

Checks, per account: Σ balance deltas = cached balance; Σ held deltas = cached held; Σ debt
deltas = debt; Σ grant remainders = balance; Σ pending hold amounts = held; available ≥ 0. Per
grant: its remainder = Σ the balance deltas of the lines that name it. Per hold: its journal
lines match its status exactly (one hold line; then nothing more while pending, or exactly one
way out).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.amounts import format_credits
from ledger.schema import accounts, entries, grants, holds
from ledger.statuses import HoldStatus


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    what: str

    def __str__(self) -> str:
        return f"account {self.account_id}: {self.what}"


def verify(conn: Connection) -> list[Mismatch]:
    problems: list[Mismatch] = []
    sums = {
        row.account_id: (int(row.balance), int(row.held), int(row.debt))
        for row in conn.execute(
            sa.select(
                entries.c.account_id,
                sa.func.sum(entries.c.balance_delta).label("balance"),
                sa.func.sum(entries.c.held_delta).label("held"),
                sa.func.sum(entries.c.debt_delta).label("debt"),
            ).group_by(entries.c.account_id)
        )
    }
    grant_sums = {
        row.account_id: int(row.remaining)
        for row in conn.execute(
            sa.select(
                grants.c.account_id, sa.func.sum(grants.c.remaining).label("remaining")
            ).group_by(grants.c.account_id)
        )
    }
    pending = {
        row.account_id: int(row.amount)
        for row in conn.execute(
            sa.select(holds.c.account_id, sa.func.sum(holds.c.amount).label("amount"))
            .where(holds.c.status == HoldStatus.PENDING)
            .group_by(holds.c.account_id)
        )
    }
    for account in conn.execute(sa.select(accounts).order_by(accounts.c.id)):
        journal_balance, journal_held, journal_debt = sums.get(account.id, (0, 0, 0))
        checks = [
            ("journal balance", journal_balance, account.balance),
            ("journal held", journal_held, account.held),
            ("grant remainders", grant_sums.get(account.id, 0), account.balance),
            ("pending holds", pending.get(account.id, 0), account.held),
            ("journal debt", journal_debt, account.debt),
        ]
        for name, computed, cached in checks:
            if computed != cached:
                problems.append(
                    Mismatch(
                        account.id,
                        f"{name} sum to {format_credits(computed, exact=True)} but the account "
                        f"says {format_credits(cached, exact=True)}",
                    )
                )
        if account.balance - account.held < 0:
            problems.append(
                Mismatch(
                    account.id,
                    f"available is {format_credits(account.balance - account.held, exact=True)}",
                )
            )
    problems += _verify_grants(conn)
    problems += _verify_holds(conn)
    return problems


def _verify_grants(conn: Connection) -> list[Mismatch]:
    journal = (
        sa.select(entries.c.grant_id, sa.func.sum(entries.c.balance_delta).label("total"))
        .where(entries.c.grant_id.is_not(None))
        .group_by(entries.c.grant_id)
        .subquery()
    )
    query = (
        sa.select(grants.c.id, grants.c.account_id, grants.c.remaining, journal.c.total)
        .outerjoin(journal, journal.c.grant_id == grants.c.id)
        .where(grants.c.remaining != sa.func.coalesce(journal.c.total, 0))
        .order_by(grants.c.id)
    )
    return [
        Mismatch(
            row.account_id,
            f"grant {row.id} has {format_credits(row.remaining, exact=True)} remaining but its "
            f"journal lines sum to {format_credits(int(row.total or 0), exact=True)}",
        )
        for row in conn.execute(query)
    ]


def _verify_holds(conn: Connection) -> list[Mismatch]:
    lines: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = sa.select(
        entries.c.hold_id, entries.c.kind, entries.c.balance_delta, entries.c.held_delta
    ).where(entries.c.hold_id.is_not(None))
    for row in conn.execute(query):
        lines[row.hold_id][row.kind] += row.held_delta
        counts[row.hold_id][row.kind] += 1
        if row.kind == "capture":
            lines[row.hold_id]["charged"] -= row.balance_delta
    problems: list[Mismatch] = []
    for hold in conn.execute(sa.select(holds).order_by(holds.c.id)):
        got = lines.get(hold.id, {})
        n = counts.get(hold.id, {})
        expected: dict[str, int] = {"hold": hold.amount}
        if hold.status == HoldStatus.CAPTURED:
            captured = hold.captured or 0
            if captured:
                expected["capture"] = -captured
                expected["charged"] = captured
            if hold.amount > captured:
                expected["release"] = -(hold.amount - captured)
        elif hold.status == HoldStatus.RELEASED:
            expected["release"] = -hold.amount
        elif hold.status == HoldStatus.EXPIRED:
            expected["expire"] = -hold.amount
        actual = {kind: amount for kind, amount in got.items() if amount or n.get(kind)}
        one_each = all(
            n.get(kind, 0) == 1 for kind in ("hold", "release", "expire") if kind in expected
        )
        if actual != expected or not one_each:
            problems.append(
                Mismatch(
                    hold.account_id,
                    f"hold {hold.id} is {hold.status} but its journal lines are "
                    f"{ {kind: format_credits(v, exact=True) for kind, v in actual.items()} }",
                )
            )
    return problems
