"""A usage row's identity (who, which account and workspace, feature, model, price version) and its
credits come from the call's hold, in one place (``UsageIdentity.of_hold``): the gateway hands the
ledger only what it measured, so a row can never disagree with the money it describes."""

from __future__ import annotations

import dataclasses

import pytest

from ledger import errors
from ledger.amounts import credits
from ledger.service import Ledger
from ledger.statuses import UsageStatus
from ledger.usage import CallUsage, UsageIdentity
from tests.conftest import FakeClock, Seed, reserve, seed

MEASURED = CallUsage(provider="demo", status=UsageStatus.OK, input_tokens=12, output_tokens=34)


def test_what_the_gateway_sends_has_no_identity_to_get_wrong() -> None:
    names = {f.name for f in dataclasses.fields(CallUsage)}
    identity = {f.name for f in dataclasses.fields(UsageIdentity)}
    assert names.isdisjoint(identity | {"credits", "workspace_id", "hold_id"})


def test_a_capture_writes_the_holds_identity_and_its_capture(ledger: Ledger, seeded: Seed) -> None:
    other = seed(ledger, credits(5), slug="other")  # a second workspace: ids differ
    hold_id = reserve(ledger, seeded, credits(2), "c1")
    hold = ledger.capture(hold_id, credits("0.234"), key="c1", usage=MEASURED).hold
    row = ledger.usage_for_hold(hold_id)
    assert row is not None
    assert (row.user_id, row.account_id, row.workspace_id) == (
        hold.user_id,
        hold.account_id,
        seeded.workspace_id,
    )
    assert row.workspace_id != other.workspace_id
    assert (row.feature_key, row.operation_type, row.model, row.price_version_id) == (
        hold.feature_key,
        hold.operation_type,
        hold.model,
        hold.price_version_id,
    )
    assert row.credits == hold.captured == credits("0.234")
    assert (row.input_tokens, row.output_tokens, row.provider) == (12, 34, "demo")


def test_a_release_and_a_timeout_write_zero_credits_with_the_holds_identity(
    ledger: Ledger, seeded: Seed, clock: FakeClock
) -> None:
    released = reserve(ledger, seeded, credits(1), "r1")
    failed = dataclasses.replace(MEASURED, status=UsageStatus.ERROR, error_type="Boom")
    ledger.release(released, reason="provider error", key="r1", usage=failed)
    timed_out = reserve(ledger, seeded, credits(1), "t1")
    late = dataclasses.replace(MEASURED, status=UsageStatus.TIMEOUT)
    ledger.record_timeout(timed_out, late)
    for hold_id, status in ((released, "error"), (timed_out, "timeout")):
        row = ledger.usage_for_hold(hold_id)
        assert row is not None and (row.status, row.credits) == (status, 0)
        assert (row.user_id, row.workspace_id) == (seeded.member_id, seeded.workspace_id)
    assert ledger.hold(timed_out).status == "pending"  # the outcome is unknown: it stays


def test_a_refusal_takes_its_workspace_from_the_account(ledger: Ledger, seeded: Seed) -> None:
    refused = dataclasses.replace(MEASURED, status=UsageStatus.REFUSED, input_tokens=0)
    row_id = ledger.record_refusal(
        account_id=seeded.account_id,
        user_id=seeded.member_id,
        feature_key="ai_text_chat",
        model="demo/chat",
        usage=refused,
    )
    (row,) = ledger.recent_usage(workspace_id=seeded.workspace_id)
    assert (row.id, row.hold_id, row.credits, row.price_version_id) == (row_id, None, 0, None)
    assert row.operation_type == "text_chat"


def test_a_malformed_measurement_writes_nothing(ledger: Ledger, seeded: Seed) -> None:
    hold_id = reserve(ledger, seeded, credits(1), "m1")
    with pytest.raises(errors.InvalidInput):
        ledger.capture(hold_id, 1, key="m1", usage=dataclasses.replace(MEASURED, status="fine"))
    assert ledger.hold(hold_id).status == "pending"
    assert ledger.usage_for_hold(hold_id) is None
    assert ledger.balance(seeded.account_id).held == credits(1)
