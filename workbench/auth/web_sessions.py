"""Local sign-in's server-side sessions: what the session cookie stands for.

:meth:`WebSessions.open` makes a random token (``secrets.token_urlsafe(32)``) for the cookie and
stores only its SHA-256, so reading the table (a backup, a leaked dump) signs nobody in. A session
is live until it is revoked (sign-out, :meth:`WebSessions.revoke_all`), has been idle for ``idle``,
is ``lifetime`` old, or its user is deactivated. The limits in force at each check apply, so
shortening them ends sessions at once. Activity is recorded at most once a minute (a page run
does not write), so a session may end up to a minute before its idle time has fully passed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from ledger.clock import Clock, system_clock
from ledger.errors import UnknownUser
from ledger.schema import users
from ledger.service import Ledger
from ledger.transactions import check_id
from workbench.config import Settings
from workbench.db.schema import web_sessions

TOUCH_EVERY = timedelta(minutes=1)
# token_urlsafe(32) is 43 characters; anything far from that is not one of ours.
_TOKEN_LENGTHS = range(20, 101)


class SessionRefused(ValueError):
    """No session for a user who may not sign in (deactivated)."""


@dataclass(frozen=True)
class WebSession:
    id: int
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    # When it ends if nothing else happens: idle from now on, or its lifetime, whichever is first.
    expires_at: datetime
    address: str | None
    user_agent: str | None


_SELECT = sa.select(web_sessions, users.c.is_active).join(
    users, users.c.id == web_sessions.c.user_id
)


@dataclass(frozen=True)
class WebSessions:
    engine: Engine
    idle: timedelta
    lifetime: timedelta
    clock: Clock = system_clock

    @classmethod
    def from_settings(
        cls, engine: Engine, config: Settings, clock: Clock = system_clock
    ) -> WebSessions:
        return cls(
            engine,
            idle=timedelta(hours=config.session_idle_hours),
            lifetime=timedelta(days=config.session_lifetime_days),
            clock=clock,
        )

    def open(
        self, user_id: int, address: str | None, user_agent: str | None
    ) -> tuple[str, WebSession]:
        """A new session for an active user: the token for the cookie (shown only here) and the
        session. Sessions past their lifetime are pruned on the way."""
        check_id(user_id, "user id")
        token = secrets.token_urlsafe(32)
        now = self._now()
        values = {
            "user_id": user_id,
            "token_hash": _hash(token),
            "created_at": now,
            "last_seen_at": now,
            "revoked_at": None,
            "address": _text(address, 64),
            "user_agent": _text(user_agent, 200),
        }
        with db.write_transaction(self.engine) as conn:
            active = conn.execute(
                sa.select(users.c.is_active).where(users.c.id == user_id)
            ).scalar_one_or_none()
            if active is None:
                raise UnknownUser(f"no user with id {user_id!r}")
            if not active:
                raise SessionRefused(f"user {user_id} is deactivated: no session for them")
            conn.execute(
                web_sessions.delete().where(web_sessions.c.created_at <= now - self.lifetime)
            )
            session_id = conn.execute(
                web_sessions.insert().values(**values).returning(web_sessions.c.id)
            ).scalar_one()
        return token, self._session(session_id, values)

    def by_token(self, token: str | None) -> WebSession | None:
        """The live session behind a cookie's token, or None."""
        if not isinstance(token, str) or len(token) not in _TOKEN_LENGTHS or not token.isascii():
            return None
        return self._live(web_sessions.c.token_hash == _hash(token))

    def check(self, session_id: int | None) -> WebSession | None:
        """The session if it is still live, or None."""
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            return None
        return self._live(web_sessions.c.id == session_id)

    def revoke(self, session_id: int) -> bool:
        """End one session (signing out: every tab that shares the cookie). False if it had
        already ended by revocation or did not exist."""
        check_id(session_id, "session id")
        with db.write_transaction(self.engine) as conn:
            return _revoke(conn, web_sessions.c.id == session_id, self._now()) > 0

    def revoke_all(self, user_id: int) -> int:
        """End every session of a user (signing out everywhere, deactivation); how many were
        open."""
        check_id(user_id, "user id")
        with db.write_transaction(self.engine) as conn:
            return _revoke(conn, web_sessions.c.user_id == user_id, self._now())

    def set_user_active(
        self, ledger: Ledger, user_id: int, active: bool, *, actor_user_id: int, reason: str
    ) -> None:
        """``Ledger.set_user_active``, and a deactivation ends the user's sessions. Refused by the
        ledger (not allowed, bad input), it ends nothing."""
        ledger.set_user_active(user_id, active, actor_user_id=actor_user_id, reason=reason)
        if not active:
            self.revoke_all(user_id)

    def _live(self, which: sa.ColumnElement[bool]) -> WebSession | None:
        now = self._now()
        with db.read_only_connection(self.engine) as conn:
            row = conn.execute(_SELECT.where(which)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not row.is_active:
            # Deactivated some way that did not end the sessions: end them all now, so a
            # reactivation does not bring them back.
            self.revoke_all(row.user_id)
            return None
        if now >= row.created_at + self.lifetime or now >= row.last_seen_at + self.idle:
            return None
        values = row._asdict()
        if now - row.last_seen_at >= TOUCH_EVERY:
            with db.write_transaction(self.engine) as conn:
                conn.execute(
                    web_sessions.update()
                    .where(
                        web_sessions.c.id == row.id,
                        web_sessions.c.revoked_at.is_(None),
                        web_sessions.c.last_seen_at < now,
                    )
                    .values(last_seen_at=now)
                )
            values["last_seen_at"] = now
        return self._session(row.id, values)

    def _session(self, session_id: int, values: dict[str, object]) -> WebSession:
        created_at, last_seen_at = values["created_at"], values["last_seen_at"]
        assert isinstance(created_at, datetime) and isinstance(last_seen_at, datetime)
        address, user_agent, user_id = values["address"], values["user_agent"], values["user_id"]
        assert isinstance(user_id, int)
        return WebSession(
            id=session_id,
            user_id=user_id,
            created_at=created_at,
            last_seen_at=last_seen_at,
            expires_at=min(last_seen_at + self.idle, created_at + self.lifetime),
            address=address if isinstance(address, str) else None,
            user_agent=user_agent if isinstance(user_agent, str) else None,
        )

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)


def _revoke(conn: Connection, which: sa.ColumnElement[bool], now: datetime) -> int:
    return conn.execute(
        web_sessions.update()
        .where(which, web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: str | None, limit: int) -> str | None:
    """A client-supplied value as kept: printable characters only, cut to the column."""
    if not value:
        return None
    kept = "".join(ch for ch in value[: limit * 4] if ch.isprintable())[:limit]
    return kept or None
