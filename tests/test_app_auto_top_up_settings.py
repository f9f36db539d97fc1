"""My credits' auto top-up form (AppTest): workspace admins and operators set it (enabled,
threshold in credits, the pack, at most N a month), it is saved and audited once; bad input is one
sentence and saves nothing; members and a workbench without Stripe keys get no form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from ledger.schema import audit_events
from tests.admin_credits_harness import errors
from tests.app_harness import CREDITS, AppEnv, assert_no_exception, button
from tests.billing_app_harness import auto_top_up_rows, billing_env, count, texts_of
from tests.stripe_fakes import FakeStripe, running_fake_stripe

SAVE = "Save auto top-up"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe) -> Iterator[AppEnv]:
    with billing_env(tmp_path, monkeypatch, fake) as opened:
        yield opened


def field(at: AppTest, kind: str, label: str) -> Any:
    [found] = [w for w in getattr(at, kind) if w.label == label]
    return found


def fill(
    at: AppTest,
    *,
    enabled: bool | None = None,
    threshold: str | None = None,
    pack: str | None = None,
    monthly: int | None = None,
) -> AppTest:
    if enabled is not None:
        field(at, "checkbox", "Top up automatically").set_value(enabled)
    if threshold is not None:
        field(at, "text_input", "When available credits fall below").input(threshold)
    if pack is not None:
        field(at, "selectbox", "Buy this pack").set_value(pack)
    if monthly is not None:
        field(at, "number_input", "At most this many top-ups a month").set_value(monthly)
    at = button(at, SAVE).click().run()
    assert_no_exception(at)
    return at


def audits(env: AppEnv) -> int:
    return count(env, audit_events, action="billing.auto_top_up")


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_an_admin_or_operator_saves_auto_top_up(env: AppEnv, who: str) -> None:
    user = getattr(env, who)
    at = env.signed_in(user, CREDITS)
    assert "Auto top-up" in texts_of(at, "subheader")
    assert "Auto top-up is off: nothing is bought without a person." in texts_of(at, "markdown")

    at = fill(at, enabled=True, threshold="1,000", pack="team", monthly=5)

    [row] = auto_top_up_rows(env)
    assert (row.workspace_id, row.enabled, row.threshold_micros, row.offer_id) == (
        env.workspace.id,
        True,
        credits(1_000),
        "team",
    )
    assert (row.monthly_limit, row.updated_by_user_id) == (5, user.id)
    assert audits(env) == 1
    assert "Auto top-up saved." in [t.value for t in at.toast]
    assert (
        "Auto top-up is on: below 1,000 credits available, buy **Team**, at most 5 times a month."
        in texts_of(at, "markdown")
    )


def test_the_form_starts_from_the_settings_and_can_switch_it_off(env: AppEnv) -> None:
    at = fill(env.signed_in(env.admin, CREDITS), enabled=True, threshold="250.5", pack="starter")
    at = env.signed_in(env.admin, CREDITS)  # a new tab: the form shows what is saved
    assert field(at, "text_input", "When available credits fall below").value == "250.5"
    assert field(at, "selectbox", "Buy this pack").value == "starter"
    assert field(at, "checkbox", "Top up automatically").value is True
    fill(at, enabled=False)
    [row] = auto_top_up_rows(env)
    assert (row.enabled, row.threshold_micros, row.offer_id) == (False, credits("250.5"), "starter")
    assert audits(env) == 2


@pytest.mark.parametrize(
    ("threshold", "said"),
    [
        ("", "Enter the threshold in credits, such as 1000."),
        ("lots", "'lots' is not an amount of credits"),
        ("0", "Threshold must be between 0.000001 and"),
        ("-5", "Threshold must be between 0.000001 and"),
        ("1.0000001", "'1.0000001' is not an amount of credits"),
    ],
)
def test_bad_input_is_one_sentence_and_saves_nothing(
    env: AppEnv, threshold: str, said: str
) -> None:
    at = fill(env.signed_in(env.admin, CREDITS), enabled=True, threshold=threshold, pack="team")
    [error] = errors(at)
    assert error.startswith(said), error
    assert auto_top_up_rows(env) == []
    assert audits(env) == 0
    assert [t.value for t in at.toast] == []


def test_bad_input_leaves_saved_settings_as_they_were(env: AppEnv) -> None:
    fill(env.signed_in(env.admin, CREDITS), enabled=True, threshold="100", pack="team")
    before = auto_top_up_rows(env)
    at = fill(env.signed_in(env.admin, CREDITS), threshold="nope", monthly=9)
    assert len(errors(at)) == 1
    assert auto_top_up_rows(env) == before
    assert audits(env) == 1


def test_a_member_gets_no_form(env: AppEnv) -> None:
    at = env.signed_in(env.member, CREDITS)
    assert "Auto top-up" not in texts_of(at, "subheader")
    assert SAVE not in [b.label for b in at.button]


def test_without_stripe_keys_there_is_no_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with billing_env(tmp_path, monkeypatch) as plain:
        at = plain.signed_in(plain.admin, CREDITS)
        assert "Auto top-up" in texts_of(at, "subheader")
        assert any("it needs purchases" in c for c in texts_of(at, "caption"))
        assert SAVE not in [b.label for b in at.button]
