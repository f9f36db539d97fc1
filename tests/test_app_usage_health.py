"""The health figures on Usage analytics: shown to workspace admins and operators with the values
the ledger holds, never to a member."""

from __future__ import annotations

from tests.app_harness import AppEnv, metrics
from tests.test_app_usage_renders import env, everyone_calls, tab_labels, usage_page

__all__ = ["env"]  # the fixture, shared with test_app_usage_renders


def test_admins_and_operators_see_the_health_figures(env: AppEnv) -> None:
    everyone_calls(env)
    open_holds = sum(1 for hold in env.holds() if hold.status == "pending")
    assert open_holds > 0  # the timed-out calls' holds wait for the sweeper
    for user in (env.admin, env.operator):
        at = usage_page(env, user, "Health")
        assert "Health" in [s.value for s in at.subheader]
        shown = metrics(at)
        assert shown["Open holds"] == str(open_holds)
        assert shown["Holds past their TTL"] == "0"
        assert shown["Calls on unpriced models"] == "0"
        assert shown["Drift (credits)"] == "0"


def test_a_member_sees_no_health_figures(env: AppEnv) -> None:
    everyone_calls(env)
    at = usage_page(env, env.member)
    assert "Health" not in tab_labels(at)
    assert "Health" not in [s.value for s in at.subheader]
    assert "Open holds" not in metrics(at)
