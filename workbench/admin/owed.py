"""Credit admin's flag for money owed: the workspaces (of those the viewer manages) whose account
owes credits because a refund or a lost dispute took back credits already spent
(``accounts.debt``; ``ledger.payments``), with the amount owed and the journal lines that made
and repaid it. Their next credits repay it first (``ledger.grants``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs installed
import sqlalchemy as sa
import streamlit as st

from ledger import db
from ledger.amounts import credits_text, format_credits
from ledger.journal import JournalLine
from ledger.schema import accounts
from workbench.admin.credit_admin import when
from workbench.bootstrap import Services
from workbench.ui.session import SignedIn

LINES_PER_WORKSPACE = 50


@dataclass(frozen=True)
class Owed:
    workspace_id: int
    slug: str
    name: str
    balance: int
    debt: int
    # The refund and dispute lines, and the repayments, newest first.
    lines: tuple[JournalLine, ...]

    @property
    def net(self) -> int:
        return self.balance - self.debt


def owed_accounts(svc: Services, actor_user_id: int) -> list[Owed]:
    """Every workspace the viewer manages that owes credits, most owed first."""
    # Accounts in debt first: almost always none, and then the page run costs this one query.
    with db.read_only_connection(svc.ledger.engine) as conn:
        debts = conn.execute(
            sa.select(accounts.c.id, accounts.c.balance, accounts.c.debt).where(accounts.c.debt > 0)
        ).all()
    if not debts:
        return []
    managed = {a.account_id: a for a in svc.ledger.account_overviews(actor_user_id=actor_user_id)}
    found: list[Owed] = []
    for account_id, balance, debt in debts:
        overview = managed.get(account_id)
        if overview is None:
            continue
        lines = svc.ledger.journal_page(
            overview.workspace_id,
            actor_user_id=actor_user_id,
            kinds=["refund", "adjustment"],
            limit=LINES_PER_WORKSPACE,
        )
        found.append(
            Owed(
                overview.workspace_id,
                overview.slug,
                overview.name,
                int(balance),
                int(debt),
                tuple(line for line in lines if line.kind == "refund" or line.debt_delta),
            )
        )
    found.sort(key=lambda o: (-o.debt, o.slug))
    return found


def owed_table(rows: Sequence[Owed]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "workspace": [o.slug for o in rows],
            "name": [o.name for o in rows],
            "owed": [format_credits(o.debt) for o in rows],
            "balance": [format_credits(o.balance) for o in rows],
            "net": [format_credits(o.net) for o in rows],
        }
    )


def lines_table(rows: Sequence[Owed]) -> pd.DataFrame:
    lines = [(o.slug, line) for o in rows for line in o.lines]
    return pd.DataFrame(
        {
            "workspace": [slug for slug, _ in lines],
            "when (UTC)": [when(line.created_at) for _, line in lines],
            "kind": [line.kind for _, line in lines],
            "balance change": [format_credits(line.balance_delta) for _, line in lines],
            "owed change": [format_credits(line.debt_delta) for _, line in lines],
            "Stripe object": [(line.reference or "").removeprefix("stripe:") for _, line in lines],
            "reason": [line.reason or "" for _, line in lines],
        }
    )


def flag_section(svc: Services, who: SignedIn) -> None:
    """Nothing when no managed workspace owes anything; otherwise a warning, the workspaces and
    their refund and dispute lines."""
    owed = owed_accounts(svc, who.user.id)
    if not owed:
        return
    total = sum(o.debt for o in owed)
    count = len(owed)
    st.warning(
        f"{count} workspace{'' if count == 1 else 's'} owe{'s' if count == 1 else ''} "
        f"{credits_text(total)} after refunds or lost disputes of credits already spent; "
        "their next credits repay it first.",
        icon=":material/money_off:",
    )
    amount = st.column_config.TextColumn(alignment="right")
    st.dataframe(
        owed_table(owed),
        hide_index=True,
        width="stretch",
        column_config={"owed": amount, "balance": amount, "net": amount},
        key="owed_accounts",
    )
    with st.expander("Refund and dispute lines"):
        st.dataframe(lines_table(owed), hide_index=True, width="stretch", key="owed_lines")
