"""The tiles show the same figures as the ledger's own usage rows, read independently of the
analytics mirror: a member's own calls, an admin's whole workspace, everything for an operator;
and the whole workspace's totals for everyone (a member included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.amounts import format_credits
from tests.app_harness import AppEnv, app_env, metrics
from tests.test_app_usage_renders import everyone_calls, usage_page


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def expected(rows: list[Any]) -> dict[str, str]:
    return {
        "Requests": f"{len(rows):,}",
        "Credits spent": format_credits(sum(r.credits for r in rows)),
        "Input tokens": f"{sum(r.input_tokens for r in rows):,}",
        "Output tokens": f"{sum(r.output_tokens for r in rows):,}",
        "Cached tokens": f"{sum(r.cached_tokens for r in rows):,}",
        "Images": f"{sum(r.images for r in rows):,}",
        "Active users": f"{len({r.user_id for r in rows}):,}",
    }


def error_rate(rows: list[Any]) -> str:
    calls = [r for r in rows if r.status != "refused"]
    errors = [r for r in calls if r.status in ("error", "timeout")]
    return f"{len(errors) / len(calls):.1%}"


@pytest.mark.parametrize("role", ["member", "admin", "operator"])
def test_the_tiles_equal_the_ledgers_rows_in_scope(env: AppEnv, role: str) -> None:
    everyone_calls(env)
    viewer = getattr(env, role)
    rows = env.usage_rows()
    # Everyone is in acme: an admin of acme and an operator see every row, a member their own.
    mine = [r for r in rows if r.user_id == viewer.id] if role == "member" else rows
    shown = metrics(usage_page(env, viewer))
    assert {label: shown[label] for label in expected(mine)} == expected(mine)
    assert shown["Error rate"] == error_rate(mine)
    assert shown["Workspace requests"] == f"{len(rows):,}"
    assert shown["Workspace credits spent"] == format_credits(sum(r.credits for r in rows))
    assert shown["Workspace active users"] == "4"


def test_a_filter_narrows_the_tiles(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.admin)
    at.multiselect(key="usage_statuses").set_value(["ok"]).run()
    ok = [r for r in env.usage_rows() if r.status == "ok"]
    assert {k: metrics(at)[k] for k in expected(ok)} == expected(ok)
    at.multiselect(key="usage_users").set_value([env.other.id]).run()
    theirs = [r for r in ok if r.user_id == env.other.id]
    assert {k: metrics(at)[k] for k in expected(theirs)} == expected(theirs)


def test_the_previous_period_is_the_change(env: AppEnv) -> None:
    """Nothing happened in the 7 days before: every count's change is the count itself."""
    everyone_calls(env)
    at = usage_page(env, env.operator)
    requests = next(m for m in at.main.metric if m.label == "Requests")
    assert requests.value == f"{len(env.usage_rows()):,}"
    assert requests.delta == f"+{len(env.usage_rows()):,}"
