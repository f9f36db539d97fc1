"""Every failed local sign-in, every refusal while locked and every lock is logged at WARNING on
``workbench.auth`` with the username and the client address, never the password, and a typed
name cannot forge a log line."""

from __future__ import annotations

import logging

import pytest

from ledger.service import Ledger
from tests.conftest import FakeClock, seed
from workbench.auth.local_logins import LocalLogins
from workbench.auth.throttle import SignInThrottle
from workbench.config import Settings
from workbench.db import schema as app_schema

PASSWORD = "the right password"
SECRET = "a guessed secret 1234"
HOME = "203.0.113.7"
LOCK_END = "2026-03-10T12:15:00+00:00"


@pytest.fixture
def logins(ledger: Ledger, clock: FakeClock) -> LocalLogins:
    app_schema.migrate(ledger.engine)
    throttle = SignInThrottle.from_settings(ledger.engine, Settings(), clock=clock)
    return LocalLogins(ledger.engine, throttle)


@pytest.fixture
def member(ledger: Ledger, logins: LocalLogins) -> str:
    s = seed(ledger, 0)
    logins.set_password(s.member_id, PASSWORD)
    return ledger.user_by_id(s.member_id).username


def auth_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [r for r in caplog.records if r.name == "workbench.auth"]
    assert {r.levelno for r in records} <= {logging.WARNING}
    return [r.getMessage() for r in records]


def test_failures_refusals_and_the_lock_are_logged_without_the_password(
    ledger: Ledger, logins: LocalLogins, member: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.auth")
    for _ in range(5):
        logins.sign_in(ledger, member, SECRET, HOME)
    logins.sign_in(ledger, member, PASSWORD, "198.51.100.1")

    assert auth_lines(caplog) == [f"failed sign-in: username '{member}' from '{HOME}'"] * 5 + [
        f"sign-in locked until {LOCK_END}: username '{member}' after 5 failures in 15 minutes",
        f"sign-in refused, locked until {LOCK_END}: username '{member}' from '198.51.100.1'",
    ]
    assert SECRET not in caplog.text and PASSWORD not in caplog.text


def test_unknown_names_and_address_locks_are_logged_alike(
    ledger: Ledger, logins: LocalLogins, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.auth")
    for n in range(20):
        logins.sign_in(ledger, f"nobody-{n}", SECRET, HOME)
    lines = auth_lines(caplog)
    assert lines[:20] == [f"failed sign-in: username 'nobody-{n}' from '{HOME}'" for n in range(20)]
    assert lines[20:] == [
        f"sign-in locked until {LOCK_END}: address '{HOME}' after 20 failures in 15 minutes"
    ]
    assert SECRET not in caplog.text


def test_a_success_logs_nothing_here(
    ledger: Ledger, logins: LocalLogins, member: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.auth")
    logins.sign_in(ledger, member, PASSWORD, HOME)
    assert auth_lines(caplog) == []


def test_a_typed_name_cannot_forge_a_log_line(
    ledger: Ledger, logins: LocalLogins, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.auth")
    forged = "eve\nWARNING workbench.auth signed in: admin"
    logins.sign_in(ledger, forged, SECRET, None)
    logins.sign_in(ledger, "x" * 10_000, SECRET, "not\nan address")
    first, second = auth_lines(caplog)
    assert first == (
        "failed sign-in: username 'eve\\nWARNING workbench.auth signed in: admin' "
        "from an unknown address"
    )
    assert "\n" not in second and len(second) < 300
    assert second == f"failed sign-in: username '{'x' * 80}…' from 'not\\nan address'"
