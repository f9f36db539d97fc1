"""Local sign-in is throttled in the database: 5 failures of a username in 15 minutes lock it for 15
minutes, 20 from a client address lock the address, whichever engine (process) they come through;
a lock refuses before any password is checked, says until when, ends by time, and unknown names
are throttled and answered exactly like known ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.service import Ledger
from tests.conftest import FakeClock, seed
from workbench.auth.local_logins import Failed, LocalLogins, Locked, SignedIn, SignInOutcome
from workbench.auth.throttle import SignInThrottle
from workbench.config import Settings
from workbench.db import schema as app_schema

PASSWORD = "the right password"
WRONG = "a wrong password"
HOME = "203.0.113.7"


def make_logins(ledger: Ledger, clock: FakeClock, **limits: Any) -> LocalLogins:
    throttle = SignInThrottle.from_settings(ledger.engine, Settings(**limits), clock=clock)
    return LocalLogins(ledger.engine, throttle)


@pytest.fixture
def logins(ledger: Ledger, clock: FakeClock) -> LocalLogins:
    app_schema.migrate(ledger.engine)
    return make_logins(ledger, clock)


@pytest.fixture
def member(ledger: Ledger, logins: LocalLogins) -> str:
    """The seeded member's username; their password is ``PASSWORD``."""
    s = seed(ledger, 0)
    logins.set_password(s.member_id, PASSWORD)
    return ledger.user_by_id(s.member_id).username


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many scrypt hashes each sign-in ran (the real hashlib.scrypt, counted)."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    yield calls


def table(ledger: Ledger, t: sa.Table) -> list[Any]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(t).order_by(t.c.id)))


def attempts(
    logins: LocalLogins, ledger: Ledger, username: str, passwords: list[str], address: str | None
) -> list[SignInOutcome]:
    return [logins.sign_in(ledger, username, p, address) for p in passwords]


def test_five_failures_lock_the_username_until_a_whole_minute(
    ledger: Ledger, logins: LocalLogins, member: str, clock: FakeClock, scrypt_calls: list[int]
) -> None:
    clock.advance(seconds=10)  # 12:00:10: the lock runs to 12:15:10, shown as "after 12:16"
    outcomes = attempts(logins, ledger, member, [WRONG] * 5, HOME)
    until = datetime(2026, 3, 10, 12, 16, tzinfo=UTC)
    assert outcomes == [Failed()] * 4 + [Locked(until)]
    assert outcomes[-1].until.tzinfo is UTC  # type: ignore[union-attr]
    [lock] = table(ledger, app_schema.sign_in_locks)
    assert (lock.scope, lock.key) == ("username", member)
    assert lock.locked_until == datetime(2026, 3, 10, 12, 15, 10, tzinfo=UTC)

    # The right password, from anywhere, is refused without being checked.
    scrypt_calls.clear()
    assert logins.sign_in(ledger, member, PASSWORD, "198.51.100.1") == Locked(until)
    assert logins.sign_in(ledger, f"  {member} ", PASSWORD, None) == Locked(until)
    assert scrypt_calls == []
    assert len(table(ledger, app_schema.sign_in_failures)) == 5  # refusals are not written


def test_unknown_and_known_usernames_are_answered_alike(
    ledger: Ledger, logins: LocalLogins, member: str, scrypt_calls: list[int]
) -> None:
    s = seed(ledger, 0, slug="other")
    ledger.set_user_active(s.member_id, False, actor_user_id=s.operator_id, reason="left")
    logins.set_password(s.member_id, PASSWORD)
    deactivated = ledger.user_by_id(s.member_id).username
    no_password = ledger.user_by_id(s.admin_id).username

    seen = {}
    for n, name in enumerate([member, "nobody-by-this-name", deactivated, no_password]):
        outcomes, hashes = [], []
        for password in [WRONG] * 5 + [PASSWORD]:
            scrypt_calls.clear()
            outcomes.append(logins.sign_in(ledger, name, password, f"192.0.2.{n + 1}"))
            hashes.append(len(scrypt_calls))
        seen[name] = (outcomes, hashes)
    locked = Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC))
    expected = ([Failed()] * 4 + [locked, locked], [1, 1, 1, 1, 1, 0])
    assert seen == dict.fromkeys(seen, expected)


def test_the_address_limit_locks_every_name_from_it(
    ledger: Ledger, logins: LocalLogins, member: str, clock: FakeClock
) -> None:
    # Twenty failures from one address, over ten names: no name reaches its own limit.
    names = [f"guess-{n}" for n in range(10)]
    outcomes = [logins.sign_in(ledger, name, WRONG, HOME) for name in names * 2]
    until = Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC))
    assert outcomes == [Failed()] * 19 + [until]
    assert [(r.scope, r.key) for r in table(ledger, app_schema.sign_in_locks)] == [
        ("address", HOME)
    ]

    assert logins.sign_in(ledger, member, PASSWORD, HOME) == until
    assert logins.sign_in(ledger, member, PASSWORD, "198.51.100.1") == SignedIn(ledger.user(member))
    clock.advance(minutes=15)
    assert logins.sign_in(ledger, member, PASSWORD, HOME) == SignedIn(ledger.user(member))


def test_ipv6_addresses_count_by_their_64(ledger: Ledger, logins: LocalLogins, member: str) -> None:
    """One machine usually holds a whole /64: changing the last bits must not reset the count."""
    addresses = [f"2001:db8:1:2::{n:x}" for n in range(1, 21)]
    outcomes = [logins.sign_in(ledger, f"guess-{n % 4}", WRONG, a) for n, a in enumerate(addresses)]
    assert outcomes[-1] == Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC))
    assert {r.address for r in table(ledger, app_schema.sign_in_failures)} == {"2001:db8:1:2::/64"}
    assert isinstance(logins.sign_in(ledger, member, PASSWORD, "2001:db8:1:2:ffff::9"), Locked)
    assert isinstance(logins.sign_in(ledger, member, PASSWORD, "2001:db8:1:3::1"), SignedIn)
    # An IPv4 client seen through an IPv6 socket is the same client.
    assert isinstance(logins.sign_in(ledger, "guess-x", WRONG, f"::ffff:{HOME}"), Failed)
    assert table(ledger, app_schema.sign_in_failures)[-1].address == HOME


def test_locks_end_by_time_and_the_next_takes_five_new_failures(
    ledger: Ledger, logins: LocalLogins, member: str, clock: FakeClock
) -> None:
    user = ledger.user(member)
    attempts(logins, ledger, member, [WRONG] * 5, HOME)
    clock.advance(minutes=15, seconds=-1)
    assert isinstance(logins.sign_in(ledger, member, PASSWORD, HOME), Locked)
    clock.advance(seconds=1)  # the lock's end: the window's failures were the lock's own
    outcomes = attempts(logins, ledger, member, [WRONG] * 5, HOME)
    assert outcomes == [Failed()] * 4 + [Locked(datetime(2026, 3, 10, 12, 30, tzinfo=UTC))]
    clock.advance(minutes=15)
    assert logins.sign_in(ledger, member, PASSWORD, HOME) == SignedIn(user)


def test_after_a_lock_shorter_than_the_window_the_old_failures_do_not_count(
    ledger: Ledger, clock: FakeClock, member: str
) -> None:
    """The failures that started a lock were that lock's: though still inside the window when it
    ends, they do not lock the name again at the next mistake."""
    logins = make_logins(ledger, clock, sign_in_lock_minutes=5)
    attempts(logins, ledger, member, [WRONG] * 5, HOME)
    clock.advance(minutes=5)
    outcomes = attempts(logins, ledger, member, [WRONG] * 5, HOME)
    assert outcomes == [Failed()] * 4 + [Locked(datetime(2026, 3, 10, 12, 10, tzinfo=UTC))]


def test_a_success_forgives_the_names_failures_but_not_the_addresses(
    ledger: Ledger, clock: FakeClock, member: str
) -> None:
    """Someone who mistyped and then got in starts afresh; their address keeps its count, so an
    attacker's own successful sign-ins cannot reset the count of their guesses."""
    logins = make_logins(ledger, clock, sign_in_address_failures=8)
    user = ledger.user(member)
    assert attempts(logins, ledger, member, [WRONG] * 4 + [PASSWORD], HOME) == [Failed()] * 4 + [
        SignedIn(user)
    ]
    # Four more on the name from elsewhere: not locked, the first four were forgiven.
    assert attempts(logins, ledger, member, [WRONG] * 4, "198.51.100.1") == [Failed()] * 4
    # The address still counts its four: four more from it reach its limit of eight.
    outcomes = attempts(logins, ledger, "someone-else", [WRONG] * 4, HOME)
    assert outcomes == [Failed()] * 3 + [Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC))]
    assert [(r.scope, r.key) for r in table(ledger, app_schema.sign_in_locks)] == [
        ("address", HOME)
    ]
    # The successful attempt left no row; the forgiven ones stay for the address.
    rows = table(ledger, app_schema.sign_in_failures)
    assert [(r.username, r.forgiven) for r in rows] == (
        [(member, True)] * 4 + [(member, False)] * 4 + [("someone-else", False)] * 4
    )


def test_a_success_does_not_lift_a_lock(
    ledger: Ledger, logins: LocalLogins, member: str, clock: FakeClock
) -> None:
    attempts(logins, ledger, member, [WRONG] * 5, HOME)
    clock.advance(minutes=5)
    assert (
        attempts(logins, ledger, member, [PASSWORD] * 3, None)
        == [Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC))] * 3
    )


def test_a_lock_holds_for_every_engine_on_the_database(
    ledger: Ledger, logins: LocalLogins, member: str, db_url: str, clock: FakeClock
) -> None:
    """Two app processes each have their own engine: failures through one lock the other."""
    other = Ledger.open(db_url, clock=clock, migrate=False)
    try:
        elsewhere = make_logins(other, clock)
        attempts(logins, ledger, member, [WRONG] * 3, HOME)
        assert attempts(elsewhere, other, member, [WRONG] * 2, "198.51.100.1") == [
            Failed(),
            Locked(datetime(2026, 3, 10, 12, 15, tzinfo=UTC)),
        ]
        assert isinstance(elsewhere.sign_in(other, member, PASSWORD, None), Locked)
        assert isinstance(logins.sign_in(ledger, member, PASSWORD, None), Locked)
    finally:
        other.close()


def test_rows_that_can_no_longer_count_are_pruned(
    ledger: Ledger, logins: LocalLogins, member: str, clock: FakeClock
) -> None:
    attempts(logins, ledger, member, [WRONG] * 5, HOME)
    assert len(table(ledger, app_schema.sign_in_locks)) == 1
    clock.advance(minutes=30, seconds=1)  # the window plus the lock
    assert logins.sign_in(ledger, "another-name", WRONG, None) == Failed()
    assert [r.username for r in table(ledger, app_schema.sign_in_failures)] == ["another-name"]
    assert table(ledger, app_schema.sign_in_locks) == []


def test_the_limits_come_from_the_configuration(
    ledger: Ledger, clock: FakeClock, member: str
) -> None:
    defaults = Settings()
    assert (
        defaults.sign_in_username_failures,
        defaults.sign_in_address_failures,
        defaults.sign_in_window_minutes,
        defaults.sign_in_lock_minutes,
    ) == (5, 20, 15, 15)
    logins = make_logins(ledger, clock, sign_in_username_failures=2, sign_in_lock_minutes=60)
    assert attempts(logins, ledger, member, [WRONG] * 2, HOME) == [
        Failed(),
        Locked(datetime(2026, 3, 10, 13, 0, tzinfo=UTC)),
    ]
    clock.advance(minutes=20)  # past the window, not the lock
    logins = make_logins(ledger, clock, sign_in_address_failures=1, sign_in_window_minutes=1)
    assert isinstance(logins.sign_in(ledger, member, PASSWORD, HOME), Locked)
    assert logins.sign_in(ledger, "someone", WRONG, "198.51.100.1") == Locked(
        datetime(2026, 3, 10, 12, 35, tzinfo=UTC)
    )


def test_the_window_is_a_sliding_fifteen_minutes(
    ledger: Ledger, logins: LocalLogins, member: str, clock: FakeClock
) -> None:
    for _ in range(4):
        assert logins.sign_in(ledger, member, WRONG, HOME) == Failed()
        clock.advance(minutes=4)
    # The first failure is now 16 minutes old: three remain in the window, so this is the fourth.
    assert logins.sign_in(ledger, member, WRONG, HOME) == Failed()
    assert isinstance(logins.sign_in(ledger, member, WRONG, HOME), Locked)
