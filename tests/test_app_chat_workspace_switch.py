"""Switching workspace while a reply streams: the reply ends (stopped) in the workspace it was sent
in and is paid from that workspace's credits; the other workspace shows nothing wrong and is not
charged; back in the first, the stopped reply is there, said to be stopped, and nothing is sent or
charged again.

The switch interrupts the streaming run (any widget does); here that run is stopped as AppTest
stops a run that outlives its timeout, then the sidebar's picker is changed, as a person would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits, credits_text
from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception
from tests.fake_providers import FakeProvider, slow_stream

MESSAGE = "Summarise this quarter for the team."


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


def switch_to(at: AppTest, workspace_id: int) -> AppTest:
    return at.sidebar.selectbox[0].set_value(workspace_id).run()


def test_switching_workspace_mid_reply_ends_it_cleanly_where_it_was_sent(env: AppEnv) -> None:
    ledger = env.svc.ledger
    beta = ledger.create_workspace("beta", "Beta")
    ledger.add_member(beta.id, env.member.id, "member")
    ledger.grant(beta.account_id, credits(500), kind="paid", key="beta-grant")
    acme_before = env.available()
    beta_before = ledger.balance(beta.account_id).available

    at = env.signed_in(env.member)
    assert env.fake is not None
    env.fake.program(slow_stream(0.5, reply_words=400))
    at.radio(key="chat_model").set_value(FAKE_CHAT_MODEL)
    at.chat_input(key="chat_prompt").set_value(MESSAGE)
    with pytest.raises(RuntimeError, match="timed out"):
        at.run(timeout=6.0)
    at.chat_input(key="chat_prompt").set_value(None)

    at = switch_to(at, beta.id)
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Chat"]
    assert at.error == [] and at.warning == []
    assert MESSAGE not in [str(m.markdown[0].value) for m in at.chat_message if m.markdown]
    # Nothing was asked of the provider, reserved or charged in beta.
    assert len(env.api_requests()) == 1
    assert ledger.balance(beta.account_id).available == beta_before
    [hold] = env.holds()
    assert hold.account_id == env.account_id
    [usage] = env.usage_rows()
    assert usage.status == "cancelled"
    assert acme_before - env.available() == usage.credits

    at = switch_to(at, env.workspace.id)
    assert_no_exception(at)
    assert at.error == []
    said = f"stopped — {credits_text(usage.credits)} charged for what was written"
    [caption] = [c.value for m in at.chat_message for c in m.caption]
    assert caption.startswith(f"{said} · "), caption
    assert [m.role for m in env.messages()] == ["user", "assistant"]
    assert len(env.api_requests()) == 1
    assert len(env.holds()) == 1
    assert acme_before - env.available() == usage.credits
