"""The ledger's transactions: one write or read transaction per operation, and the idempotency
wrapper every mutating money operation runs in (replay the stored outcome, or do the work and
store its outcome with the key, in the same transaction). Also the argument checks shared by the
operations: bad input raises before anything is read or written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ledger import db, holds
from ledger.clock import Clock, system_clock
from ledger.errors import InvalidInput, LedgerError, MissingReason, error_from_payload
from ledger.idempotency import KeyCheck, Replay, check_key, record, request_hash
from ledger.outcomes import HoldOutcome

T = TypeVar("T")
L = TypeVar("L", bound="Transactions")

DEFAULT_HOLD_TTL = timedelta(minutes=15)
MAX_HOLD_TTL = timedelta(days=1)


def check_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise MissingReason("a reason is required (say why, for the audit trail)")
    if len(reason) > 2000:
        raise InvalidInput("reason is longer than 2,000 characters")
    return reason.strip()


def check_id(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{what} must be a positive integer id, got {value!r:.40}")
    return value


class Transactions:
    """An engine, a clock and the transaction shapes every ledger operation uses."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        hold_ttl: timedelta = DEFAULT_HOLD_TTL,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.hold_ttl = hold_ttl

    @classmethod
    def open(
        cls: type[L],
        url: str,
        *,
        migrate: bool = True,
        clock: Clock | None = None,
        hold_ttl: timedelta = DEFAULT_HOLD_TTL,
        **engine_options: Any,
    ) -> L:
        engine = db.create_engine(url, **engine_options)
        if migrate:
            db.migrate(engine)
        return cls(engine, clock=clock, hold_ttl=hold_ttl)

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return self._clock() if self._clock else system_clock()

    # --- transactions ----------------------------------------------------------------------

    def _write(self, work: Callable[[Connection, datetime], T]) -> T:
        with db.write_transaction(self.engine) as conn:
            return work(conn, self.now())

    def _read(self, work: Callable[[Connection], T]) -> T:
        with db.read_only_connection(self.engine) as conn:
            return work(conn)

    def _replayed_hold(self, data: Mapping[str, Any]) -> HoldOutcome:
        """A replay answers with the hold the first call made, as it stands now."""
        hold = self._read(lambda conn: holds.read(conn, int(data["hold_id"])))
        return HoldOutcome(replayed=True, hold=hold)

    def _idempotent(
        self,
        scope: str,
        key: str,
        params: Mapping[str, Any],
        work: Callable[[Connection, KeyCheck, datetime], T],
        encode: Callable[[T], str],
        decode: Callable[[Mapping[str, Any]], T],
    ) -> T:
        """Run ``work`` once per key: replay its stored outcome, or store the new one with it.

        ``work`` must call ``check.raise_if_used`` (from its first query) or ``check.lookup``
        before it writes anything.
        """
        check = KeyCheck(scope, check_key(key), request_hash(scope, params))
        # Two attempts: on PostgreSQL a concurrent first use of the same key makes one insert
        # fail on the key's primary key; the retry then finds the winner's outcome.
        for attempt in (1, 2):
            try:
                return self._idempotent_once(check, work, encode, decode)
            except IntegrityError as error:
                # Only a lost race for the key is retried; any other constraint violation is a bug
                # and surfaces at once.
                if attempt == 2 or "idempotency_keys" not in str(error.orig):
                    raise
        raise AssertionError("unreachable")

    def _idempotent_once(
        self,
        check: KeyCheck,
        work: Callable[[Connection, KeyCheck, datetime], T],
        encode: Callable[[T], str],
        decode: Callable[[Mapping[str, Any]], T],
    ) -> T:
        refusal: LedgerError | None = None
        try:
            with db.write_transaction(self.engine) as conn:
                now = self.now()
                try:
                    value = work(conn, check, now)
                except LedgerError as error:
                    if not error.stored:
                        raise
                    # A refusal that depends on the ledger's state is kept with the key, and
                    # committed with whatever the call legitimately did first (an expiry).
                    record(conn, check, json.dumps({"error": error.to_payload()}, default=str), now)
                    refusal = error
                else:
                    record(conn, check, encode(value), now)
                    return value
        except Replay as replay:
            if "error" in replay.outcome:
                raise error_from_payload(replay.outcome["error"]) from None
            return decode(replay.outcome["ok"])
        assert refusal is not None
        raise refusal
