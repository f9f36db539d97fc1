"""Local sign-in's server-side sessions: the cookie's token is never stored (only its SHA-256), a
session lives until it is revoked, idle for 12 hours, 7 days old or its user is deactivated, and
checking it writes at most once a minute."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.errors import InvalidInput, NotAllowed, UnknownUser
from ledger.service import Ledger
from tests.conftest import FakeClock, Seed, seed
from workbench.auth.web_sessions import SessionRefused, WebSessions
from workbench.config import Settings
from workbench.db import schema as app_schema

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0"


@pytest.fixture
def sessions(ledger: Ledger, clock: FakeClock) -> WebSessions:
    app_schema.migrate(ledger.engine)
    return WebSessions.from_settings(ledger.engine, Settings(), clock=clock)


@pytest.fixture
def s(ledger: Ledger) -> Seed:
    return seed(ledger, 0)


def rows(ledger: Ledger) -> list[Any]:
    t = app_schema.web_sessions
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(t).order_by(t.c.id)))


def test_the_defaults_are_twelve_hours_idle_and_seven_days(sessions: WebSessions) -> None:
    assert (sessions.idle, sessions.lifetime) == (timedelta(hours=12), timedelta(days=7))


def test_a_session_opens_and_only_its_tokens_hash_is_stored(
    ledger: Ledger, sessions: WebSessions, s: Seed, clock: FakeClock
) -> None:
    token, session = sessions.open(s.member_id, "203.0.113.7", BROWSER)
    assert len(token) == 43  # secrets.token_urlsafe(32)
    assert (session.user_id, session.created_at, session.last_seen_at) == (
        s.member_id,
        clock.now,
        clock.now,
    )
    assert session.expires_at == clock.now + timedelta(hours=12)
    [row] = rows(ledger)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in row)
    assert (row.address, row.user_agent, row.revoked_at) == ("203.0.113.7", BROWSER, None)

    assert sessions.by_token(token) == session
    assert sessions.check(session.id) == session
    assert sessions.by_token(row.token_hash) is None  # the stored hash is no token
    other, _ = sessions.open(s.member_id, None, None)
    assert other != token


def test_activity_is_recorded_at_most_once_a_minute(
    ledger: Ledger, sessions: WebSessions, s: Seed, clock: FakeClock
) -> None:
    token, session = sessions.open(s.member_id, None, None)
    opened = clock.now
    for _ in range(5):
        clock.advance(seconds=11)
        assert sessions.by_token(token) is not None
    assert [r.last_seen_at for r in rows(ledger)] == [opened]  # 55 s: no write yet
    clock.advance(seconds=5)
    seen = sessions.check(session.id)
    assert seen is not None and seen.last_seen_at == clock.now
    assert seen.expires_at == clock.now + timedelta(hours=12)
    assert [r.last_seen_at for r in rows(ledger)] == [clock.now]


def test_a_session_idle_for_twelve_hours_ends(
    sessions: WebSessions, s: Seed, clock: FakeClock
) -> None:
    token, session = sessions.open(s.member_id, None, None)
    clock.advance(hours=11, minutes=59)
    assert sessions.by_token(token) is not None  # used: idle counts from here
    clock.advance(hours=11, minutes=59)
    assert sessions.check(session.id) is not None
    clock.advance(hours=12)
    assert sessions.by_token(token) is None
    assert sessions.check(session.id) is None


def test_a_session_in_constant_use_ends_after_seven_days(
    sessions: WebSessions, s: Seed, clock: FakeClock
) -> None:
    token, session = sessions.open(s.member_id, None, None)
    end = clock.now + timedelta(days=7)
    while clock.now + timedelta(hours=1) < end:
        clock.advance(hours=1)
        live = sessions.by_token(token)
        assert live is not None and live.expires_at <= end
    clock.now = end - timedelta(seconds=1)
    assert sessions.check(session.id) is not None
    clock.advance(seconds=1)
    assert sessions.by_token(token) is None
    assert sessions.check(session.id) is None


def test_revoking_one_session_leaves_the_others(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    token, session = sessions.open(s.member_id, None, None)
    kept, _ = sessions.open(s.member_id, None, None)
    assert sessions.revoke(session.id) is True
    assert sessions.by_token(token) is None and sessions.check(session.id) is None
    assert sessions.by_token(kept) is not None
    assert sessions.revoke(session.id) is False  # already ended
    assert [r.revoked_at is not None for r in rows(ledger)] == [True, False]


def test_revoking_all_of_a_users_sessions_leaves_other_users(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    mine = [sessions.open(s.member_id, None, None)[0] for _ in range(2)]
    theirs, _ = sessions.open(s.admin_id, None, None)
    assert sessions.revoke_all(s.member_id) == 2
    assert [sessions.by_token(t) for t in mine] == [None, None]
    assert sessions.by_token(theirs) is not None
    assert sessions.revoke_all(s.member_id) == 0


def test_a_deactivated_users_sessions_end_and_stay_ended(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    """Deactivated by the ledger directly (no helper): the next check refuses and ends every
    session of theirs, so a reactivation brings none back."""
    first, session = sessions.open(s.member_id, None, None)
    second, _ = sessions.open(s.member_id, None, None)
    ledger.set_user_active(s.member_id, False, actor_user_id=s.operator_id, reason="left")
    assert sessions.check(session.id) is None
    assert [r.revoked_at is not None for r in rows(ledger)] == [True, True]
    ledger.set_user_active(s.member_id, True, actor_user_id=s.operator_id, reason="back")
    assert sessions.by_token(first) is None and sessions.by_token(second) is None


def test_deactivating_through_the_helper_ends_the_sessions_at_once(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    token, _ = sessions.open(s.member_id, None, None)
    admins, _ = sessions.open(s.admin_id, None, None)
    # Refused by the ledger (a member may not deactivate anyone): nothing ends.
    with pytest.raises(NotAllowed):
        sessions.set_user_active(
            ledger, s.admin_id, False, actor_user_id=s.member_id, reason="coup"
        )
    assert [r.revoked_at for r in rows(ledger)] == [None, None]
    sessions.set_user_active(ledger, s.member_id, False, actor_user_id=s.admin_id, reason="left")
    assert [r.revoked_at is not None for r in rows(ledger)] == [True, False]
    assert sessions.by_token(token) is None and sessions.by_token(admins) is not None
    sessions.set_user_active(ledger, s.member_id, True, actor_user_id=s.admin_id, reason="back")
    assert sessions.by_token(token) is None


def test_no_session_opens_for_a_deactivated_or_unknown_user(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    ledger.set_user_active(s.member_id, False, actor_user_id=s.operator_id, reason="left")
    with pytest.raises(SessionRefused, match="deactivated"):
        sessions.open(s.member_id, None, None)
    with pytest.raises(UnknownUser):
        sessions.open(999_999, None, None)
    for bad in (0, -1, True, "1"):
        with pytest.raises(InvalidInput, match="user id"):
            sessions.open(bad, None, None)  # type: ignore[arg-type]
    assert rows(ledger) == []


@pytest.mark.parametrize(
    "token",
    [None, "", "short", "x" * 10_000, "é" * 43, "\x00" * 43],
    ids=["none", "empty", "short", "huge", "non-ascii", "nul"],
)
def test_a_bad_token_finds_nothing_and_writes_nothing(
    ledger: Ledger, sessions: WebSessions, s: Seed, token: str | None
) -> None:
    sessions.open(s.member_id, None, None)
    before = rows(ledger)
    assert sessions.by_token(token) is None
    assert rows(ledger) == before


def test_bad_session_ids_find_nothing_and_revoke_nothing(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    sessions.open(s.member_id, None, None)
    before = rows(ledger)
    for bad in (None, "1", 1.0, True, 0, 999_999):
        assert sessions.check(bad) is None  # type: ignore[arg-type]
    for bad in (None, "1", True, 0):
        with pytest.raises(InvalidInput, match="session id"):
            sessions.revoke(bad)  # type: ignore[arg-type]
    assert sessions.revoke(999_999) is False
    assert rows(ledger) == before


def test_what_the_client_sent_is_kept_printable_and_bounded(
    ledger: Ledger, sessions: WebSessions, s: Seed
) -> None:
    sessions.open(s.member_id, "a" * 500, "UA\x00\n" + "b" * 10_000)
    sessions.open(s.member_id, "", "\x00\x01")
    first, second = rows(ledger)
    assert (first.address, first.user_agent) == ("a" * 64, "UA" + "b" * 198)
    assert (second.address, second.user_agent) == (None, None)


def test_sessions_past_their_lifetime_are_pruned_when_one_opens(
    ledger: Ledger, sessions: WebSessions, s: Seed, clock: FakeClock
) -> None:
    old, _ = sessions.open(s.member_id, None, None)
    clock.advance(days=6)
    sessions.open(s.admin_id, None, None)
    clock.advance(days=1)
    _, newest = sessions.open(s.member_id, None, None)
    assert [r.user_id for r in rows(ledger)] == [s.admin_id, s.member_id]
    assert rows(ledger)[-1].id == newest.id
    assert sessions.by_token(old) is None
