"""Local sign-in's throttle: failures per username and per client address, counted in the database
so the limits hold across every app process.

``username_failures`` failures of one name within ``window`` lock that name for ``lock``;
``address_failures`` failures from one client address (an IPv6 address counts as its /64, which one
machine usually holds whole) lock that address the same way. A locked name or address is refused
before any password is checked, so guessing stops, whoever types it and whether or not the name
exists; a lock ends by time only. Once it has ended, the failures that caused it no longer count:
the next lock takes as many new ones.

Each attempt writes its row *before* the password is checked (:meth:`SignInThrottle.admit`), in a
transaction that first takes turns per name and per address (SQLite's single writer; advisory
locks on PostgreSQL). So guesses sent in parallel, from any number of processes, are counted as
they start: no more than the limit of them ever reach the password check. A right password
deletes its row and *forgives* the name's earlier failures (they stop counting for the name, not
for the address): someone who mistyped and then got in starts afresh, and an attacker gains
nothing, as only the account's owner can sign in as it.

Every failure, refusal and lock is logged at WARNING on ``workbench.auth`` with the name and the
address (never the password), both quoted and cut short so a typed name cannot forge log lines.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from ledger.clock import Clock, check_when, system_clock
from workbench.config import Settings
from workbench.db.schema import sign_in_failures, sign_in_locks

log = logging.getLogger("workbench.auth")

USERNAME, ADDRESS = "username", "address"
KEY_LENGTH = 64
# Advisory-lock classes (PostgreSQL's two-key form, a space apart from the ledger's one-key locks).
_LOCK_CLASS = {USERNAME: 0x5755, ADDRESS: 0x5741}
_PRUNE_CLASS = 0x5750


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt as the throttle saw it start: admitted (``id`` is its row, counted as a
    failure unless it succeeds) or refused while a lock holds until ``locked_until``."""

    username: str
    address: str | None
    at: datetime
    id: int | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class SignInThrottle:
    engine: Engine
    username_failures: int
    address_failures: int
    window: timedelta
    lock: timedelta
    clock: Clock = system_clock

    @classmethod
    def from_settings(
        cls, engine: Engine, config: Settings, clock: Clock = system_clock
    ) -> SignInThrottle:
        return cls(
            engine,
            username_failures=config.sign_in_username_failures,
            address_failures=config.sign_in_address_failures,
            window=timedelta(minutes=config.sign_in_window_minutes),
            lock=timedelta(minutes=config.sign_in_lock_minutes),
            clock=clock,
        )

    def admit(self, username: str, address: str | None, now: datetime | None = None) -> Attempt:
        """Start an attempt: refused (``locked_until`` set, nothing written) while its name or
        address is locked, or while attempts already started fill a limit (a lock then starts);
        otherwise its row is written and the password may be checked."""
        now = self._now(now)
        keys = _keys(username, address)
        with db.write_transaction(self.engine) as conn:
            _take_turns(conn, keys)
            self._prune(conn, now)
            until = self._locks(conn, keys, username, now)
            if until is not None:
                log.warning(
                    "sign-in refused, locked until %s: username %s from %s",
                    _when(until),
                    shown(username),
                    shown(address),
                )
                return Attempt(username, address, now, locked_until=until)
            row_id = conn.execute(
                sign_in_failures.insert()
                .values(
                    username=keys[USERNAME],
                    address=keys.get(ADDRESS),
                    attempted_at=now,
                    forgiven=False,
                )
                .returning(sign_in_failures.c.id)
            ).scalar_one()
        return Attempt(username, address, now, id=row_id)

    def failed(self, attempt: Attempt, now: datetime | None = None) -> datetime | None:
        """The password was wrong (or the name unknown: the same thing here). Logs it; returns the
        end of the lock that now holds, if any (this failure may have started it)."""
        now = self._now(now)
        keys = _keys(attempt.username, attempt.address)
        log.warning(
            "failed sign-in: username %s from %s", shown(attempt.username), shown(attempt.address)
        )
        with db.write_transaction(self.engine) as conn:
            _take_turns(conn, keys)
            return self._locks(conn, keys, attempt.username, now)

    def succeeded(self, attempt: Attempt, now: datetime | None = None) -> None:
        """The password was right: the attempt's row goes, and the name's earlier failures no
        longer count for it (a lock already started still runs its course)."""
        now = self._now(now)
        keys = _keys(attempt.username, attempt.address)
        with db.write_transaction(self.engine) as conn:
            _take_turns(conn, keys)
            conn.execute(sign_in_failures.delete().where(sign_in_failures.c.id == attempt.id))
            conn.execute(
                sign_in_failures.update()
                .where(
                    sign_in_failures.c.username == keys[USERNAME],
                    sign_in_failures.c.forgiven.is_(False),
                    sign_in_failures.c.attempted_at > now - self.window,
                    sign_in_failures.c.attempted_at <= attempt.at,
                )
                .values(forgiven=True)
            )

    def _now(self, now: datetime | None) -> datetime:
        given = check_when(now, "the sign-in's time")
        return (given or self.clock()).astimezone(UTC)

    def _locks(
        self, conn: Connection, keys: dict[str, str], username: str, now: datetime
    ) -> datetime | None:
        """The end of the latest lock holding any of ``keys``, after starting one on each key
        whose failures fill its limit; None when nothing is locked."""
        ends = []
        for scope, key in keys.items():
            until = _active_lock(conn, scope, key, now)
            limit = self.username_failures if scope == USERNAME else self.address_failures
            if until is None and _failures(conn, scope, key, now - self.window) >= limit:
                until = now + self.lock
                conn.execute(
                    sign_in_locks.insert().values(
                        scope=scope, key=key, locked_at=now, locked_until=until
                    )
                )
                log.warning(
                    "sign-in locked until %s: %s %s after %d failures in %d minutes",
                    _when(until),
                    scope,
                    shown(username) if scope == USERNAME else shown(key),
                    limit,
                    self.window // timedelta(minutes=1),
                )
            if until is not None:
                ends.append(until)
        return max(ends, default=None)

    def _prune(self, conn: Connection, now: datetime) -> None:
        """Drop rows that can no longer count. On PostgreSQL one process prunes at a time (the
        others skip it rather than wait, or delete the same rows in another order)."""
        if conn.dialect.name == "postgresql":
            taken = conn.execute(
                sa.select(sa.func.pg_try_advisory_xact_lock(_PRUNE_CLASS, 0))
            ).scalar_one()
            if not taken:
                return
        # Older than the window plus a lock's length: clear of every row a count or a
        # forgiveness (both inside the window) may be touching now.
        conn.execute(
            sign_in_failures.delete().where(
                sign_in_failures.c.attempted_at < now - self.window - self.lock
            )
        )
        conn.execute(sign_in_locks.delete().where(sign_in_locks.c.locked_until < now - self.window))


def _failures(conn: Connection, scope: str, key: str, since: datetime) -> int:
    """Failures of ``key`` after ``since`` and after its last lock ended (those before it were
    that lock's; none are written while a lock holds)."""
    last_lock = conn.execute(
        sa.select(sa.func.max(sign_in_locks.c.locked_until)).where(
            sign_in_locks.c.scope == scope, sign_in_locks.c.key == key
        )
    ).scalar()
    column = sign_in_failures.c.username if scope == USERNAME else sign_in_failures.c.address
    query = sa.select(sa.func.count()).where(column == key, sign_in_failures.c.attempted_at > since)
    if last_lock is not None:
        query = query.where(sign_in_failures.c.attempted_at >= last_lock)
    if scope == USERNAME:
        query = query.where(sign_in_failures.c.forgiven.is_(False))
    return int(conn.execute(query).scalar_one())


def _active_lock(conn: Connection, scope: str, key: str, now: datetime) -> datetime | None:
    until: datetime | None = conn.execute(
        sa.select(sa.func.max(sign_in_locks.c.locked_until)).where(
            sign_in_locks.c.scope == scope,
            sign_in_locks.c.key == key,
            sign_in_locks.c.locked_until > now,
        )
    ).scalar()
    return until


def _take_turns(conn: Connection, keys: dict[str, str]) -> None:
    """PostgreSQL: one transaction at a time per name and per address (always in that order, so
    two attempts never wait on each other in a circle). SQLite has one writer at a time anyway."""
    if conn.dialect.name != "postgresql":
        return
    for scope, key in keys.items():
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_CLASS[scope], digest)))


def _keys(username: str, address: str | None) -> dict[str, str]:
    """What the throttle counts by: the name, and the address when there is one."""
    keys = {USERNAME: _storable(username)}
    address_key = address_key_of(address)
    if address_key is not None:
        keys[ADDRESS] = address_key
    return keys


def address_key_of(address: str | None) -> str | None:
    """The client address as counted: an IP address in its canonical form (an IPv4 address
    mapped into IPv6 as itself; IPv6 as its /64, as one machine usually holds the whole of it),
    anything else as text; None for none."""
    text = (address or "").strip()
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return _storable(text)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def _storable(text: str) -> str:
    """``text`` if a column can hold it as it is; otherwise (too long, control characters, lone
    surrogates) a hash of it that no user's name can be."""
    if len(text) <= KEY_LENGTH and text.isprintable():
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"~{digest[:40]}"


def shown(text: str | None, limit: int = 80) -> str:
    """A typed value as a log line shows it: quoted with its control characters escaped, cut to
    ``limit`` characters."""
    if text is None:
        return "an unknown address"
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
