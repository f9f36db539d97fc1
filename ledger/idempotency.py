"""Idempotency keys: one caller-supplied key per user action, stored with a hash of the request.

The stored row is written in the same transaction as the effect it guards, so a crash can never
leave an effect without its key or a key without its effect. A replay of the same request gets the
original outcome back (a stored refusal is raised again); the same key with different parameters
is an ``IdempotencyConflict``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import IdempotencyConflict, InvalidIdempotencyKey
from ledger.schema import idempotency_keys as keys_table

# Printable, URL- and log-safe; long enough for "stripe:evt_…" or a UUID with a prefix.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}")

_LOOKUP = sa.select(keys_table.c.request_hash, keys_table.c.outcome).where(
    keys_table.c.scope == sa.bindparam("scope"), keys_table.c.key == sa.bindparam("key")
)
_RECORD = keys_table.insert()


def check_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey(
            "idempotency key must be 1-200 characters of letters, digits and _ . : - "
            f"starting with a letter or digit; got {key!r:.60}",
            key=str(key)[:200],
        )
    return key


def request_hash(scope: str, params: Mapping[str, Any]) -> str:
    """SHA-256 of the request's parameters (plain ints, strings, floats and None), order-free."""
    canonical = repr((scope, sorted(params.items())))
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(conn: Connection, check: KeyCheck, outcome_json: str, now: datetime) -> None:
    """Store the outcome (JSON: ``{"ok": …}`` or ``{"error": …}``) with the key, in the
    transaction of the effect it describes."""
    conn.execute(
        _RECORD,
        {
            "scope": check.scope,
            "key": check.key,
            "request_hash": check.digest,
            "outcome": outcome_json,
            "created_at": now,
        },
    )


def with_stored_outcome(query: sa.Select[Any], scope: str) -> sa.Select[Any]:
    """``query`` with the key's stored row outer-joined: columns ``idem_hash`` and
    ``idem_outcome`` (NULL for a new key), the key bound to the parameter ``idem_key``. An
    operation adds it to its first SELECT, so looking the key up costs no statement of its own."""
    return query.add_columns(
        keys_table.c.request_hash.label("idem_hash"), keys_table.c.outcome.label("idem_outcome")
    ).outerjoin(
        keys_table,
        sa.and_(keys_table.c.scope == scope, keys_table.c.key == sa.bindparam("idem_key")),
    )


class Replay(Exception):
    """Raised inside an operation when its key was already used for the same request."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__("replay")
        self.outcome = outcome


@dataclass(frozen=True)
class KeyCheck:
    """One call's key and request hash, handed to the operation so it can look the key up as part
    of its first query (one round trip fewer on the hot path)."""

    scope: str
    key: str
    digest: str

    def raise_if_used(self, stored_hash: str | None, stored_outcome: str | None) -> None:
        """``Replay`` for the same request, ``IdempotencyConflict`` for another; else nothing."""
        if stored_hash is None:
            return
        if stored_hash != self.digest:
            raise IdempotencyConflict(
                f"idempotency key {self.key!r} was already used for a different {self.scope} "
                "request",
                scope=self.scope,
                key=self.key,
            )
        assert stored_outcome is not None
        raise Replay(json.loads(stored_outcome))

    def lookup(self, conn: Connection) -> None:
        """The same check as a query of its own, for operations off the hot path."""
        row = conn.execute(_LOOKUP, {"scope": self.scope, "key": self.key}).first()
        if row is not None:
            self.raise_if_used(row.request_hash, row.outcome)
