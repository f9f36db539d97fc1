"""What the ledger's mutating operations return, and how an outcome is kept with its idempotency
key so a replay returns it (``to_json`` / ``from_json`` pairs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from ledger.holds import Hold


@dataclass(frozen=True)
class Outcome:
    """What a mutating call did; ``replayed`` is True when answered from its idempotency key."""

    replayed: bool


@dataclass(frozen=True)
class HoldOutcome(Outcome):
    hold: Hold


@dataclass(frozen=True)
class GrantOutcome(Outcome):
    grant_id: int
    account_id: int
    amount: int
    kind: str
    expires_at: datetime | None


@dataclass(frozen=True)
class AdjustmentOutcome(Outcome):
    account_id: int
    delta: int
    grant_id: int | None


@dataclass(frozen=True)
class SweepReport:
    holds_expired: int
    grant_credits_expired: int
    accounts_swept: int


def json_fields(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass's fields as JSON-ready values (datetimes as ISO strings)."""
    return {
        f.name: (v.isoformat() if isinstance(v := getattr(obj, f.name), datetime) else v)
        for f in fields(obj)
        if f.name not in skip
    }


def hold_to_json(outcome: HoldOutcome) -> str:
    # The hold row is the record of what happened; the key only needs to point at it. Written
    # by hand because this runs on every reserve and capture.
    return f'{{"ok": {{"hold_id": {int(outcome.hold.id)}}}}}'


def plain_to_json(outcome: Outcome) -> str:
    return json.dumps({"ok": json_fields(outcome, skip=("replayed",))}, default=str)


def grant_from_json(data: Mapping[str, Any]) -> GrantOutcome:
    expires = data["expires_at"]
    return GrantOutcome(
        replayed=True,
        grant_id=data["grant_id"],
        account_id=data["account_id"],
        amount=data["amount"],
        kind=data["kind"],
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def adjustment_from_json(data: Mapping[str, Any]) -> AdjustmentOutcome:
    return AdjustmentOutcome(replayed=True, **data)
