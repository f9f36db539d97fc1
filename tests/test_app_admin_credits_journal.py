"""Credit admin, the journal: newest first in pages of 50 ("Older", "Newest"), filtered by kind
and date (a new filter starts again at the newest page), and its CSV holds exactly what the
filters match, with text a spreadsheet would run as a formula defused."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page, errors, submit, table_with
from tests.app_harness import AppEnv, app_env
from workbench.admin.credit_admin import journal_csv
from workbench.admin.records import every_line


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(10)) as opened:
        for n in range(54):
            opened.svc.ledger.grant(opened.account_id, credits(1), kind="promo", key=f"g{n}")
        opened.svc.ledger.reserve(
            opened.account_id,
            user_id=opened.member.id,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=credits(2),
            key="h1",
        )
        yield opened


def test_pages_filters_and_csv(env: AppEnv) -> None:
    ids = [e.id for e in env.entries()]
    assert len(ids) == 56
    at = admin_page(env, env.admin)
    assert list(table_with(at, "held change")["id"]) == ids[::-1][:50]
    at = submit(at, "Older")
    assert list(table_with(at, "held change")["id"]) == ids[::-1][50:]
    assert "Older" not in [b.label for b in at.button]
    at = submit(at, "Newest")
    assert list(table_with(at, "held change")["id"]) == ids[::-1][:50]

    at = submit(at, "Older")
    at.multiselect(key="journal_kinds").set_value(["hold"]).run()  # back to the newest page
    [hold_line] = table_with(at, "held change").to_dict("records")
    assert (hold_line["kind"], hold_line["held change"]) == ("hold", "2")

    at.multiselect(key="journal_kinds").set_value([]).run()
    at.date_input(key="journal_since").set_value(date.today() + timedelta(days=2)).run()
    assert "No journal lines match." in [c.value for c in at.caption]
    at.date_input(key="journal_until").set_value(date.today()).run()
    assert errors(at) == ["The end of the date range is before its start."]


def test_the_csv_is_what_the_filters_match(env: AppEnv) -> None:
    ledger = env.svc.ledger
    ledger.top_up(
        env.workspace.id,
        credits(3),
        kind="paid",
        actor_user_id=env.operator.id,
        reason="=HYPERLINK('http://example.com')",
        key="t1",
    )

    def page(before_id: int | None, limit: int) -> list:  # type: ignore[type-arg]
        return ledger.journal_page(
            env.workspace.id,
            actor_user_id=env.admin.id,
            kinds=["grant"],
            before_id=before_id,
            limit=limit,
        )

    lines = every_line(page)
    frame = pd.read_csv(io.StringIO(journal_csv(lines, {env.operator.id: "olga"})))
    assert len(frame) == 56 and set(frame["kind"]) == {"grant"}
    top = frame.iloc[0]
    assert top["balance change (micro-credits)"] == credits(3)
    assert (top["by"], top["reason"]) == ("olga", "'=HYPERLINK('http://example.com')")
