"""Bad input to the throttled sign-in (blank, huge or unprintable names, no or odd client
addresses, a naive time) neither crashes on either backend nor writes more than it should: a
blank name writes nothing, anything else writes one bounded row and is throttled like any name."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.errors import InvalidInput
from ledger.service import Ledger
from tests.conftest import FakeClock, seed
from workbench.auth.local_logins import Failed, LocalLogins, Locked
from workbench.auth.throttle import SignInThrottle
from workbench.config import Settings
from workbench.db import schema as app_schema

PASSWORD = "the right password"
WRONG = "a wrong password"
LOCKED = Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC))


@pytest.fixture
def logins(ledger: Ledger, clock: FakeClock) -> LocalLogins:
    app_schema.migrate(ledger.engine)
    throttle = SignInThrottle.from_settings(ledger.engine, Settings(), clock=clock)
    return LocalLogins(ledger.engine, throttle)


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    real = hashlib.scrypt

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    yield calls


def failures(ledger: Ledger) -> list[Any]:
    with ledger.engine.connect() as conn:
        t = app_schema.sign_in_failures
        return list(conn.execute(sa.select(t).order_by(t.c.id)))


def locks(ledger: Ledger) -> list[Any]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(app_schema.sign_in_locks)))


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_name_fails_and_writes_nothing(
    ledger: Ledger,
    logins: LocalLogins,
    blank: str,
    scrypt_calls: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.auth")
    for _ in range(30):
        assert logins.sign_in(ledger, blank, WRONG, "203.0.113.7") == Failed()
    assert failures(ledger) == [] and locks(ledger) == []
    assert scrypt_calls == [] and caplog.records == []


@pytest.mark.parametrize(
    "name",
    ["x" * 100_000, "bob\x00", "b\u0007ob", "\ud800lone", "é" * 65],
    ids=["huge", "nul", "bell", "surrogate", "too-long-unicode"],
)
def test_a_name_no_column_can_hold_is_throttled_by_its_hash(
    ledger: Ledger, logins: LocalLogins, name: str, scrypt_calls: list[int]
) -> None:
    assert logins.sign_in(ledger, name, WRONG, "203.0.113.7") == Failed()
    [row] = failures(ledger)
    assert row.username.startswith("~") and len(row.username) <= 64
    assert row.address == "203.0.113.7"
    assert scrypt_calls == [1]  # a dummy hash, as for any unknown name
    outcomes = [logins.sign_in(ledger, name, WRONG, None) for _ in range(5)]
    assert outcomes == [Failed()] * 3 + [LOCKED, LOCKED]
    assert len(failures(ledger)) == 5
    assert [(r.scope, r.key) for r in locks(ledger)] == [("username", row.username)]


def test_no_address_counts_for_the_name_only(ledger: Ledger, logins: LocalLogins) -> None:
    s = seed(ledger, 0)
    logins.set_password(s.member_id, PASSWORD)
    member = ledger.user_by_id(s.member_id).username
    outcomes = [logins.sign_in(ledger, f"guess-{n}", WRONG, None) for n in range(25)]
    assert outcomes == [Failed()] * 25  # no address: no address limit to reach
    assert {r.address for r in failures(ledger)} == {None}
    assert locks(ledger) == []
    assert [logins.sign_in(ledger, member, WRONG, None) for _ in range(5)][-1] == LOCKED


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("", None),
        ("   ", None),
        ("  198.51.100.1 ", "198.51.100.1"),
        ("unix-socket", "unix-socket"),
        ("a" * 500, None),
        ("198.51.100.1\x00", None),
    ],
    ids=["empty", "blank", "spaces", "not-an-ip", "huge", "nul"],
)
def test_odd_addresses_are_kept_bounded(
    ledger: Ledger, logins: LocalLogins, address: str, kept: str | None
) -> None:
    assert logins.sign_in(ledger, "someone", WRONG, address) == Failed()
    [row] = failures(ledger)
    if kept is None and address.strip():
        assert row.address.startswith("~") and len(row.address) <= 64
    else:
        assert row.address == kept


def test_a_naive_time_is_refused_and_writes_nothing(ledger: Ledger, logins: LocalLogins) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        logins.sign_in(ledger, "someone", WRONG, None, now=datetime(2026, 3, 10, 12, 0))
    assert failures(ledger) == [] and locks(ledger) == []
