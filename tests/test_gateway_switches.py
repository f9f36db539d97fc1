"""The gateway reads model switches, feature switches and prices from the database, cached for at
most 5 s on an injected clock, so every app process honours an operator's change within 5 s.

A model switched off behaves like ``enabled = false`` in models.toml (a visible fallback, never a
silent call to something else); a feature switched off is refused before any hold, with the
operator's message, and recorded as a ``refused`` usage row like the ledger's refusals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.amounts import credits
from ledger.service import Ledger
from tests.gateway_harness import ROOT, Harness, HarnessFactory, ask
from workbench.gateway.caches import PRICE_CACHE_S, SWITCH_CACHE_S
from workbench.gateway.errors import FeatureDisabled, ModelUnavailable
from workbench.gateway.facade import Gateway
from workbench.gateway.requests import CHAT_FEATURE, IMAGE_FEATURE
from workbench.gateway.setup import build_gateway

MINI = "openai/gpt-4o-mini"
MAINTENANCE = "Chat is paused for maintenance until 14:00 UTC."


class Tick:
    """A monotonic clock the test moves: no sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def gateway_on(h: Harness, ledger: Ledger | None = None, **overrides: Any) -> tuple[Gateway, Tick]:
    tick = Tick()
    config = h.settings.model_copy(update=overrides) if overrides else h.settings
    return build_gateway(ledger or h.ledger, config, monotonic=tick), tick


def offered(gateway: Gateway, kind: str = "chat") -> list[str]:
    return [m.id for m in gateway.models(kind)]  # type: ignore[arg-type]


def chat_ok(gateway: Gateway, h: Harness, key: str, model: str = "demo/chat") -> Any:
    turn = gateway.chat(h.caller, ask("Tell me about tides"), key=key, model=model)
    assert "".join(turn)
    assert turn.result is not None and turn.result.status == "ok"
    return turn


@pytest.fixture
def operator(harness: Harness) -> int:
    user = harness.ledger.create_user("operator", "The operator")
    harness.ledger.set_operator(user.id, True, actor_user_id=None, reason="runs the catalogue")
    return user.id


# --- model switches -------------------------------------------------------------------------------


def test_a_model_switched_off_falls_back_with_a_notice_within_5_s(
    harness: Harness, operator: int
) -> None:
    h = harness
    gateway, tick = gateway_on(h)
    assert MINI in offered(gateway)
    h.ledger.set_model_enabled(MINI, False, operator, reason="over budget")

    tick.advance(SWITCH_CACHE_S - 0.1)  # within the window: the cached state, nothing newer
    assert MINI in offered(gateway)
    tick.advance(0.1)
    assert MINI not in offered(gateway)

    turn = gateway.chat(h.caller, ask("Tell me about tides"), key="off-1", model=MINI)
    assert (
        turn.notice == "GPT-4o mini is switched off by an admin; using Demo chat (offline) instead."
    )
    assert turn.hold is not None and turn.hold.model == "demo/chat"
    assert "".join(turn) and turn.result is not None and turn.result.notice == turn.notice
    assert h.fake.api_requests() == [], "the switched-off model was called"
    with pytest.raises(ModelUnavailable, match="switched off"):
        gateway.chat(h.caller, ask("hi"), key="off-2", model=MINI, fallback=False)
    with pytest.raises(ModelUnavailable, match="switched off"):
        gateway.estimate_chat(ask("hi"), model=MINI, fallback=False)

    h.ledger.set_model_enabled(MINI, True, operator)
    tick.advance(SWITCH_CACHE_S)
    assert MINI in offered(gateway)
    turn = chat_ok(gateway, h, "on-again", MINI)
    assert turn.notice is None and turn.hold.model == MINI
    assert len(h.fake.api_requests()) == 1


def test_a_model_the_file_disables_is_enabled_from_the_database(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    shipped = (ROOT / "data" / "models.toml").read_text(encoding="utf-8")
    line = f'litellm_model = "{MINI}"\n'
    catalogue = tmp_path / "models.toml"
    catalogue.write_text(shipped.replace(line, line + "enabled = false\n"), encoding="utf-8")
    h = make_harness(model_catalogue=catalogue)
    gateway, tick = gateway_on(h)
    assert MINI not in offered(gateway)  # no switch in the database: as the file says

    h.ledger.set_model_enabled(MINI, True, None, reason="trial")
    tick.advance(SWITCH_CACHE_S)
    assert MINI in offered(gateway)
    assert chat_ok(gateway, h, "enabled-1", MINI).hold.model == MINI


def test_switching_off_the_default_model_is_an_error_not_a_silent_substitute(
    harness: Harness, operator: int
) -> None:
    h = harness
    h.ledger.set_model_enabled("demo/chat", False, operator)
    gateway, _ = gateway_on(h)
    with pytest.raises(ModelUnavailable, match="default chat model cannot be used"):
        gateway.chat(h.caller, ask("hi"), key="no-default", model="nope/unknown")
    assert h.holds() == [] and h.fake.api_requests() == []


# --- feature switches -----------------------------------------------------------------------------


def test_a_feature_switched_off_is_refused_before_any_hold_with_its_message(
    harness: Harness, operator: int
) -> None:
    h = harness
    h.ledger.set_feature(CHAT_FEATURE, False, MAINTENANCE, actor_user_id=operator)
    gateway, _ = gateway_on(h)
    before = h.ledger.balance(h.caller.account_id)

    with pytest.raises(FeatureDisabled) as estimated:
        gateway.estimate_chat(ask("hi"), model=MINI)
    assert h.usage_rows() == [], "an estimate asks for nothing, so records nothing"

    with pytest.raises(FeatureDisabled) as refused:
        gateway.chat(h.caller, ask("Tell me about tides"), key="feature-off-1", model=MINI)
    error = refused.value
    assert error.message == f"Chat is switched off for now. {MAINTENANCE}"
    assert error.message == estimated.value.message
    assert error.fields == {"feature_key": CHAT_FEATURE, "detail": MAINTENANCE}

    assert h.ledger.balance(h.caller.account_id) == before, "something was charged or held"
    assert h.holds() == [], "a hold was taken"
    assert h.fake.api_requests() == [], "the provider was called"
    [row] = h.usage_rows()
    assert (row.status, row.error_type, row.error_message) == (
        "refused",
        "FeatureDisabled",
        error.message,
    )
    assert (row.credits, row.hold_id, row.price_version_id) == (0, None, None)
    assert (row.model, row.provider, row.feature_key, row.idempotency_key) == (
        MINI,
        "openai",
        CHAT_FEATURE,
        "feature-off-1",
    )
    # Bad input does not get past a switched-off feature either: the switch is checked first.
    with pytest.raises(FeatureDisabled):
        gateway.chat(h.caller, [], key="feature-off-2")

    # The other feature is untouched.
    images = gateway.generate_images(h.caller, "a lighthouse", key="img-on", model="demo/images")
    assert images.status == "ok" and images.credits > 0


def test_image_generation_switched_off_without_a_message(harness: Harness, operator: int) -> None:
    h = harness
    h.ledger.set_feature(IMAGE_FEATURE, False, actor_user_id=operator)
    gateway, _ = gateway_on(h)
    before = h.available()
    with pytest.raises(FeatureDisabled) as refused:
        gateway.generate_images(h.caller, "a lighthouse", key="img-off", model="openai/dall-e-3")
    assert refused.value.message == (
        "Image generation is switched off for now. Ask the workbench's admins when it will be back."
    )
    with pytest.raises(FeatureDisabled):
        gateway.estimate_images(model="demo/images")
    assert gateway.image_options("demo/images"), "pickers still show what is priced"
    assert h.available() == before and h.holds() == [] and h.fake.api_requests() == []
    [row] = h.usage_rows()
    assert (row.status, row.error_type, row.model, row.feature_key) == (
        "refused",
        "FeatureDisabled",
        "openai/dall-e-3",
        IMAGE_FEATURE,
    )
    chat_ok(gateway, h, "chat-still-on")


@pytest.fixture
def second_ledger(db_url: str, harness: Harness) -> Iterator[Ledger]:
    """Another process's handle on the same database: its own engine and connections."""
    book = Ledger.open(db_url, migrate=False, pool_size=2)
    yield book
    book.close()


def test_two_processes_honour_a_feature_switch_within_5_s(
    harness: Harness, second_ledger: Ledger, operator: int
) -> None:
    h = harness
    here, here_tick = gateway_on(h)
    there, there_tick = gateway_on(h, second_ledger)
    chat_ok(here, h, "before-here")
    chat_ok(there, h, "before-there")

    # An operator switches chat off in this process, through the ledger.
    h.ledger.set_feature(CHAT_FEATURE, False, MAINTENANCE, actor_user_id=operator)

    # Within the window each process uses at most the state it cached: chat still works.
    here_tick.advance(SWITCH_CACHE_S - 0.1)
    there_tick.advance(SWITCH_CACHE_S - 0.1)
    chat_ok(there, h, "within-window-there")
    chat_ok(here, h, "within-window-here")

    # Once the window has passed, the other process refuses too, with the operator's message.
    there_tick.advance(0.1)
    with pytest.raises(FeatureDisabled, match="maintenance until 14:00"):
        there.chat(h.caller, ask("hi"), key="after-window-there")
    held = h.ledger.balance(h.caller.account_id).held
    assert held == 0

    # Switched back on in the *other* process: honoured here once this one's window passes.
    second_ledger.set_feature(CHAT_FEATURE, True, actor_user_id=operator)
    here_tick.advance(0.1)  # this process re-reads now: the switch is back on
    chat_ok(here, h, "back-on-here")
    assert here.feature_off(CHAT_FEATURE) is None
    assert there.feature_off(CHAT_FEATURE) is not None  # still its cached "off", for < 5 s
    there_tick.advance(SWITCH_CACHE_S)
    chat_ok(there, h, "back-on-there")


def test_a_price_change_is_honoured_within_5_s(
    harness: Harness, second_ledger: Ledger, operator: int
) -> None:
    h = harness
    gateway, tick = gateway_on(h, second_ledger)
    old = gateway.estimate_chat(ask("hi"), model="demo/chat")
    h.ledger.set_price(
        "demo/chat",
        feature_key=CHAT_FEATURE,
        input_per_mtok=credits(100_000),
        output_per_mtok=credits(400_000),
        actor_user_id=operator,
    )
    tick.advance(PRICE_CACHE_S - 0.1)
    assert gateway.estimate_chat(ask("hi"), model="demo/chat") == old
    tick.advance(0.1)
    new = gateway.estimate_chat(ask("hi"), model="demo/chat")
    assert new.price_version == h.ledger.price("demo/chat").version_id != old.price_version
    assert new.credits > old.credits
    turn = chat_ok(gateway, h, "new-price")
    assert turn.hold.price_version_id == new.price_version
