"""The Usage analytics page renders for a member, a workspace admin and an operator, with its
tiles and each section's tab (charts, tables; only the open tab's), from usage written through
the ledger's real path (holds captured, released, timed out; refusals). The helpers here are
shared by the other test_app_usage_ files."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from streamlit.testing.v1 import AppTest

from ledger.owners import User
from tests.app_harness import AppEnv, all_text, app_env, assert_no_exception
from tests.test_analytics_world import MODELS, write_call
from workbench.analytics.sections import SECTION
from workbench.ui.page_registry import spec

# For ``AppTest.switch_page``: relative to the router's folder, like tests/app_harness.py's.
USAGE = "../../pages/usage.py"
STATUSES = ("ok", "ok", "ok", "error", "timeout", "cancelled", "refused")
TILES = (
    "Requests",
    "Credits spent",
    "Provider cost (USD)",
    "Margin (USD)",
    "Input tokens",
    "Output tokens",
    "Cached tokens",
    "Images",
    "Active users",
    "Error rate",
    "Latency p50",
    "Latency p95",
    "Time to first token p50",
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def make_calls(env: AppEnv, user: User, count: int, tag: str) -> None:
    """``count`` calls by ``user`` now, through the ledger's write path, every status and model."""
    rnd = random.Random(tag)
    for i in range(count):
        status = STATUSES[i % len(STATUSES)]
        model = MODELS[i % len(MODELS)]
        write_call(env.svc.ledger, user.id, env.account_id, f"{tag}-{i}", status, model, rnd)


def everyone_calls(env: AppEnv) -> None:
    make_calls(env, env.admin, 5, "admin")
    make_calls(env, env.member, 8, "member")
    make_calls(env, env.other, 6, "other")
    make_calls(env, env.operator, 3, "operator")


def usage_page(env: AppEnv, user: User, section: str | None = None) -> AppTest:
    """Usage analytics as ``user`` sees it, with ``section``'s tab open (the first by default)."""
    at = env.signed_in(user, USAGE)
    assert_no_exception(at)
    return at if section is None else open_section(at, section)


def open_section(at: AppTest, name: str) -> AppTest:
    """Open a section's tab, as a click on it does (the tab's label kept by key; one rerun)."""
    assert name in tab_labels(at), (name, tab_labels(at))
    at.session_state[SECTION] = name
    at.run()
    assert_no_exception(at)
    return at


def tab_labels(at: AppTest) -> list[str]:
    return [tab.label for tab in at.tabs]


def tables(at: AppTest) -> list[Any]:
    """Every dataframe on the page, as pandas frames."""
    return [frame.value for frame in at.dataframe]


def charts(at: AppTest) -> list[Any]:
    return list(at.get("vega_lite_chart"))


def charts_text(at: AppTest) -> str:
    """Every chart's specification and data (decoded from Arrow), as text."""
    parts = []
    for chart in charts(at):
        proto = chart.proto
        parts.append(proto.spec)
        buffers = [proto.data.data] + [named.data.data for named in proto.datasets]
        for buffer in buffers:
            if buffer:
                parts.append(pa.ipc.open_stream(buffer).read_all().to_pandas().to_string())
    return "\n".join(parts)


@pytest.mark.parametrize("role", ["member", "admin", "operator"])
def test_the_page_renders_every_section_for_every_level(env: AppEnv, role: str) -> None:
    everyone_calls(env)
    at = usage_page(env, getattr(env, role))
    assert [t.value for t in at.title] == [spec("usage").title]
    assert at.error == []
    shown = [m.label for m in at.main.metric]
    assert shown[: len(TILES)] == list(TILES)
    assert "Workspace credits spent" in shown
    member = role == "member"
    assert tab_labels(at) == (
        ["Credits", "Requests and latency", "Top models", "Calls"]
        if member
        else ["Credits", "Requests and latency", "Top models and users", "Health", "Calls"]
    )
    # Credits, open first: the stacked credits and the burn rate, nothing of the other tabs.
    assert len(charts(at)) == 2
    assert tables(at) == []
    assert "Burn rate" in [s.value for s in at.subheader]
    # The workspace's pace and balance, as one plain sentence (a member sees workspace totals).
    assert any(
        "available at" in c.value and "a day over the last 7 days" in c.value for c in at.caption
    )
    assert "demo/chat" in charts_text(at)  # the credits chart stacks by model
    assert "Traceback" not in all_text(at)

    open_section(at, "Requests and latency")
    assert [s.value for s in at.subheader][-2:] == ["Requests and errors", "Latency"]
    assert len(charts(at)) == 2 and tables(at) == []

    open_section(at, "Top models" if member else "Top models and users")
    subheaders = [s.value for s in at.subheader]
    assert charts(at) == []
    if member:
        assert "Top users" not in subheaders
        assert len(tables(at)) == 1  # top models
    else:
        assert {"Top models", "Top users", "Credits by user and model"} <= set(subheaders)
        assert len(tables(at)) == 3

    open_section(at, "Calls")
    assert len(tables(at)) == 1  # the calls
    assert [b.label for b in at.get("download_button")] == [
        "Download calls (CSV)",
        "Download calls (Parquet)",
    ]
    assert "Traceback" not in all_text(at)


def test_the_open_section_stays_open_when_a_filter_changes(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.admin, "Calls")
    at.selectbox(key="usage_grain").set_value("week").run()
    assert_no_exception(at)
    assert at.session_state[SECTION] == "Calls"
    assert [s.value for s in at.subheader][-1] == "Calls" and charts(at) == []


def test_the_page_renders_with_no_usage_at_all(env: AppEnv) -> None:
    at = usage_page(env, env.member, "Calls")
    assert at.error == []
    assert "No calls match." in [c.value for c in at.caption]


def test_the_mirror_lives_in_the_tests_folder(env: AppEnv) -> None:
    usage_page(env, env.member)
    assert (env.tmp_path / "analytics.duckdb").exists()


def test_a_tab_the_viewer_does_not_have_opens_credits_instead(env: AppEnv) -> None:
    # Kept from a workspace the person runs, then viewed as a member (a workspace switch).
    everyone_calls(env)
    at = usage_page(env, env.member)
    at.session_state[SECTION] = "Health"
    at.run()
    assert_no_exception(at)
    assert "Health" not in tab_labels(at)
    assert [s.value for s in at.subheader][-2:] == ["Credits per period", "Burn rate"]
