"""Helpers for the Credit admin page's tests (tests/test_app_admin*.py): find a table by one of
its columns, read the page's errors as plain text, and snapshot what the ledger holds so a test
can say "nothing was written"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.app_harness import ADMIN_CREDITS, AppEnv, assert_no_exception, button

_ESCAPED = re.compile(r"\\(.)")


def admin_page(env: AppEnv, who: Any) -> AppTest:
    at = env.signed_in(who, ADMIN_CREDITS)
    assert_no_exception(at)
    return at


def table_with(at: AppTest, column: str) -> Any:
    """The one dataframe on the page that has ``column`` (fails if none or several)."""
    found = [t.value for t in at.dataframe if column in t.value.columns]
    assert len(found) == 1, f"tables with a {column!r} column: {len(found)}"
    return found[0]


def errors(at: AppTest) -> list[str]:
    """The page's st.error texts, markdown escapes (and the word joiners that keep links from
    forming) removed."""
    return [_ESCAPED.sub(r"\1", str(e.value)).replace("\u2060", "") for e in at.error]


def submit(at: AppTest, label: str) -> AppTest:
    at = button(at, label).click().run()
    assert_no_exception(at)
    return at


@dataclass(frozen=True)
class LedgerState:
    balance: int
    held: int
    entries: int
    audit: int
    members: tuple[tuple[int, str, int | None], ...]
    threshold: int | None


def state(env: AppEnv) -> LedgerState:
    """What a refused form must leave unchanged: money, journal, audit, members, threshold."""
    ledger = env.svc.ledger
    balance = ledger.balance(env.account_id)
    members = tuple((u.id, m.role, m.monthly_cap) for u, m in ledger.members_of(env.workspace.id))
    [overview] = [
        o
        for o in ledger.account_overviews(actor_user_id=env.operator.id)
        if o.workspace_id == env.workspace.id
    ]
    return LedgerState(
        balance.balance,
        balance.held,
        len(env.entries()),
        len(ledger.audit_trail(actor_user_id=env.operator.id, limit=1000)),
        members,
        overview.low_balance_threshold,
    )


def shown(at: AppTest) -> dict[str, str]:
    """Every metric on the page, the confirmation dialog's included (``metrics`` reads only the
    main area), label to shown value."""
    return {m.label: m.value for m in at.metric}
