"""Model and feature switches: which allowlisted models may be called, and whether a feature
(``ai_text_chat``, ``ai_image_generation``) is on, with the message people see while it is off.

The table is append-only: a change is a new row with who made it, why and when, and the latest
row per (kind, key) is the current state. A model with no row yet is as ``data/models.toml`` lists
it (the first start records that as the model's first row); a feature with no row is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import InvalidInput
from ledger.features import operation_type
from ledger.schema import SWITCH_KINDS, catalogue_switches, users

MODEL = "model"
FEATURE = "feature"
MAX_MESSAGE = 500
MAX_REASON = 2000


@dataclass(frozen=True)
class Switch:
    """One change of one switch (the current state, when it is the latest for its key)."""

    id: int
    kind: str
    key: str
    enabled: bool
    message: str | None
    reason: str | None
    actor_user_id: int | None
    # The actor's username; None for the catalogue file.
    actor: str | None
    created_at: datetime


@dataclass(frozen=True)
class Switches:
    """The current state of every switch that was ever set."""

    models: Mapping[str, Switch] = field(default_factory=dict)
    features: Mapping[str, Switch] = field(default_factory=dict)

    def model_enabled(self, model: str, default: bool) -> bool:
        """The model's switch, or ``default`` (the catalogue file's flag) if it has none."""
        switch = self.models.get(model)
        return default if switch is None else switch.enabled

    def feature(self, feature_key: str) -> Switch | None:
        """The feature's current switch; None means it was never switched (it is on)."""
        return self.features.get(feature_key)

    def feature_enabled(self, feature_key: str) -> bool:
        switch = self.features.get(feature_key)
        return switch is None or switch.enabled


# Any fixed number: PostgreSQL's advisory lock that serialises writers of the catalogue.
_CATALOGUE_LOCK = 0x5745_4341  # "WECA": workbench catalogue


def lock_catalogue(conn: Connection) -> None:
    """Catalogue writers take turns: two operators (or replicas seeding an empty database) never
    add the same price version twice. SQLite's BEGIN IMMEDIATE already serialises writers."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CATALOGUE_LOCK})


def check_kind(kind: str) -> str:
    if kind not in SWITCH_KINDS:
        raise InvalidInput(f"switch kind must be one of {SWITCH_KINDS}, got {kind!r:.40}")
    return kind


def check_key(kind: str, key: object) -> str:
    if kind == FEATURE:
        operation_type(str(key))  # UnknownFeature for anything not sold
        return str(key)
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise InvalidInput(f"model must be a non-empty name, got {key!r:.60}")
    return key


def check_text(value: object, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit:,} characters")
    return value or None


def _query() -> sa.Select[Any]:
    return sa.select(catalogue_switches, users.c.username.label("actor")).outerjoin(
        users, users.c.id == catalogue_switches.c.actor_user_id
    )


def _switch(row: Any) -> Switch:
    return Switch(
        id=row.id,
        kind=row.kind,
        key=row.key,
        enabled=bool(row.enabled),
        message=row.message,
        reason=row.reason,
        actor_user_id=row.actor_user_id,
        actor=row.actor,
        created_at=row.created_at,
    )


def current(conn: Connection) -> Switches:
    """Every switch's latest row, in one query."""
    latest = (
        sa.select(sa.func.max(catalogue_switches.c.id))
        .group_by(catalogue_switches.c.kind, catalogue_switches.c.key)
        .scalar_subquery()
    )
    models: dict[str, Switch] = {}
    features: dict[str, Switch] = {}
    for row in conn.execute(_query().where(catalogue_switches.c.id.in_(latest))):
        switch = _switch(row)
        (models if switch.kind == MODEL else features)[switch.key] = switch
    return Switches(models, features)


def latest(conn: Connection, kind: str, key: str) -> Switch | None:
    row = conn.execute(
        _query()
        .where(catalogue_switches.c.kind == kind, catalogue_switches.c.key == key)
        .order_by(catalogue_switches.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _switch(row)


def history(conn: Connection, kind: str, key: str, limit: int = 100) -> list[Switch]:
    """One switch's changes, newest first."""
    rows = conn.execute(
        _query()
        .where(catalogue_switches.c.kind == kind, catalogue_switches.c.key == key)
        .order_by(catalogue_switches.c.id.desc())
        .limit(limit)
    )
    return [_switch(row) for row in rows]


def record(
    conn: Connection,
    kind: str,
    key: str,
    enabled: bool,
    now: datetime,
    *,
    message: str | None = None,
    reason: str | None = None,
    actor_user_id: int | None = None,
) -> Switch:
    """Append a change, unless the switch already stands so (then its current row is returned:
    pressing "switch off" twice is one change)."""
    before = latest(conn, kind, key)
    if before is not None and (before.enabled, before.message) == (enabled, message):
        return before
    switch_id = conn.execute(
        catalogue_switches.insert()
        .values(
            kind=kind,
            key=key,
            enabled=enabled,
            message=message,
            reason=reason,
            actor_user_id=actor_user_id,
            created_at=now,
        )
        .returning(catalogue_switches.c.id)
    ).scalar_one()
    row = conn.execute(_query().where(catalogue_switches.c.id == switch_id)).one()
    return _switch(row)


def seed_models(
    conn: Connection, models: Mapping[str, bool], now: datetime, reason: str
) -> list[str]:
    """A first row for every listed model that has none yet, as the catalogue file says; a model
    that already has a switch is never touched. Returns a line per model recorded."""
    known = set(
        conn.execute(
            sa.select(catalogue_switches.c.key).where(catalogue_switches.c.kind == MODEL).distinct()
        ).scalars()
    )
    changes: list[str] = []
    for model, enabled in sorted(models.items()):
        if model in known:
            continue
        conn.execute(
            catalogue_switches.insert().values(
                kind=MODEL, key=model, enabled=enabled, reason=reason, created_at=now
            )
        )
        changes.append(f"{model}: {'enabled' if enabled else 'disabled'} (from the catalogue)")
    return changes
