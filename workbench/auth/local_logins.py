"""Local sign-in: usernames with passwords hashed by scrypt (a standard slow KDF, in hashlib).

The first start creates an ``admin`` user (and a workspace for it, if there is none) with a random
password printed once to the console; there is never a fixed default password. Other people's
passwords are set by an admin (``workbench auth set-password``).

:meth:`LocalLogins.sign_in` is the way in: throttled per username and per client address
(``workbench.auth.throttle``), and answered the same whether or not the username exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger import db
from ledger.errors import UnknownUser
from ledger.owners import User
from ledger.service import Ledger
from workbench.auth.throttle import SignInThrottle
from workbench.config import settings
from workbench.db.schema import local_logins

# OWASP's scrypt floor (2**17 with r=8 is its first choice; 2**15 keeps a sign-in near 100 ms here).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 10
FIRST_ADMIN = "admin"


class BadPassword(ValueError):
    """A password too weak to set."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encode = base64.b64encode
    parts = ("scrypt", SCRYPT_N, SCRYPT_R, SCRYPT_P, encode(salt).decode(), encode(digest).decode())
    return "$".join(str(part) for part in parts)


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=32)


@dataclass(frozen=True)
class SignedIn:
    user: User


@dataclass(frozen=True)
class Failed:
    """Wrong username or password: never which."""


@dataclass(frozen=True)
class Locked:
    """Too many failures for the username or from the address: no password is checked before
    ``until`` (UTC, rounded up to the whole minute a page can show as "try again after")."""

    until: datetime


SignInOutcome = SignedIn | Failed | Locked


@dataclass(frozen=True)
class LocalLogins:
    engine: Engine
    # None: the process's configured limits (``workbench.config``).
    throttle: SignInThrottle | None = None

    def sign_in(
        self,
        ledger: Ledger,
        username: str,
        password: str,
        address: str | None,
        now: datetime | None = None,
    ) -> SignInOutcome:
        """Sign in from the client ``address`` (None when the server cannot tell), throttled.

        A locked name or address is refused before the password is checked; otherwise a wrong
        password, an unknown name and a deactivated user fail alike, after the same hashing. An
        empty name is a plain failure that counts for nothing: it can guess nothing."""
        name = username.strip()
        if not name:
            return Failed()
        throttle = self.throttle or SignInThrottle.from_settings(self.engine, settings())
        attempt = throttle.admit(name, address, now)
        if attempt.locked_until is not None:
            return Locked(_whole_minute_after(attempt.locked_until))
        user = self.check(ledger, name, password)
        if user is None:
            until = throttle.failed(attempt, now)
            return Failed() if until is None else Locked(_whole_minute_after(until))
        throttle.succeeded(attempt, now)
        return SignedIn(user)

    def set_password(self, user_id: int, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise BadPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        now = datetime.now(UTC)
        hashed = hash_password(password)
        with db.write_transaction(self.engine) as conn:
            updated = conn.execute(
                local_logins.update()
                .where(local_logins.c.user_id == user_id)
                .values(password_hash=hashed, updated_at=now)
            ).rowcount
            if not updated:
                conn.execute(
                    local_logins.insert().values(
                        user_id=user_id, password_hash=hashed, created_at=now, updated_at=now
                    )
                )

    def check(self, ledger: Ledger, username: str, password: str) -> User | None:
        """The user if the password is theirs; None otherwise (never says which part was wrong).
        A wrong username costs the same hashing as a wrong password. Not throttled: people sign
        in through :meth:`sign_in`."""
        name = username.strip()
        try:
            # A name no user could have is not looked up: PostgreSQL refuses some characters
            # (NUL) outright.
            user = ledger.user(name) if could_be_username(name) else None
        except UnknownUser:
            user = None
        if user is None:
            verify_password(password, _DUMMY_HASH)
            return None
        with db.read_only_connection(self.engine) as conn:
            stored = conn.execute(
                sa.select(local_logins.c.password_hash).where(local_logins.c.user_id == user.id)
            ).scalar_one_or_none()
        if stored is None or not ledger.is_active(user.id):
            verify_password(password, _DUMMY_HASH)
            return None
        return user if verify_password(password, stored) else None

    def any(self) -> bool:
        with db.read_only_connection(self.engine) as conn:
            return conn.execute(sa.select(local_logins.c.user_id).limit(1)).first() is not None

    def create_first_admin(self, ledger: Ledger, workspace_slug: str = "demo") -> str | None:
        """On the very first start (no local login at all): an ``admin`` with a random password,
        returned so the caller can print it once, made an operator (someone must be able to top
        up credits and change prices from the pages). None when logins already exist."""
        if self.any():
            return None
        try:
            admin = ledger.user(FIRST_ADMIN)
        except UnknownUser:
            admin = ledger.create_user(FIRST_ADMIN, "Administrator")
        workspaces = ledger.workspaces()
        workspace = next((w for w in workspaces if w.slug == workspace_slug), None)
        if workspace is None and not workspaces:
            workspace = ledger.create_workspace(workspace_slug, workspace_slug.title())
        workspace = workspace or workspaces[0]
        if ledger.membership(workspace.id, admin.id) is None:
            ledger.add_member(workspace.id, admin.id, "admin")
        if not ledger.actor(admin.id).is_operator:
            ledger.set_operator(
                admin.id, True, actor_user_id=None, reason="the first admin, created on first start"
            )
        password = secrets.token_urlsafe(12)
        self.set_password(admin.id, password)
        return password


def could_be_username(name: str) -> bool:
    """Whether a user could have this name (``ledger.owners`` allows at most 64 printable ASCII
    characters, and fewer kinds than that)."""
    return 0 < len(name) <= 64 and name.isascii() and name.isprintable()


def _whole_minute_after(moment: datetime) -> datetime:
    """``moment`` rounded up to the minute, so "after 15:32" is never before the lock ends."""
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
