"""The audit trail: one ``audit_events`` row per admin action, written by the operation itself in
the transaction of the change it records (so there is never a change without its row, nor a row
without its change). Append-only: the database refuses UPDATE and DELETE."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.schema import audit_events, users, workspaces


@dataclass(frozen=True)
class AuditEvent:
    id: int
    created_at: datetime
    actor_user_id: int | None
    # The actor's username; None for the command line run without --by.
    actor: str | None
    action: str
    workspace_id: int | None
    workspace: str | None
    target_kind: str
    target: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def record(
    conn: Connection,
    *,
    actor_user_id: int | None,
    action: str,
    target_kind: str,
    target: object,
    now: datetime,
    workspace_id: int | None = None,
    reason: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        audit_events.insert().values(
            created_at=now,
            actor_user_id=actor_user_id,
            action=action,
            workspace_id=workspace_id,
            target_kind=target_kind,
            target=str(target),
            reason=reason,
            before=_json(before),
            after=_json(after),
        )
    )


def _json(values: dict[str, Any] | None) -> str | None:
    return None if values is None else json.dumps(values, sort_keys=True, default=str)


def events(
    conn: Connection,
    *,
    workspace_ids: frozenset[int] | None,
    action: str | None = None,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    """Events newest first. ``workspace_ids`` None: every event (an operator's view); else only
    those of these workspaces."""
    actor = users.alias("actor")
    query = (
        sa.select(audit_events, actor.c.username.label("actor"), workspaces.c.slug)
        .outerjoin(actor, actor.c.id == audit_events.c.actor_user_id)
        .outerjoin(workspaces, workspaces.c.id == audit_events.c.workspace_id)
        .order_by(audit_events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if workspace_ids is not None:
        query = query.where(audit_events.c.workspace_id.in_(sorted(workspace_ids)))
    if action:
        query = query.where(audit_events.c.action == action)
    if actor_user_id is not None:
        query = query.where(audit_events.c.actor_user_id == actor_user_id)
    if since is not None:
        query = query.where(audit_events.c.created_at >= since)
    if until is not None:
        query = query.where(audit_events.c.created_at < until)
    return [
        AuditEvent(
            id=row.id,
            created_at=row.created_at,
            actor_user_id=row.actor_user_id,
            actor=row.actor,
            action=row.action,
            workspace_id=row.workspace_id,
            workspace=row.slug,
            target_kind=row.target_kind,
            target=row.target,
            reason=row.reason,
            before=None if row.before is None else json.loads(row.before),
            after=None if row.after is None else json.loads(row.after),
        )
        for row in conn.execute(query)
    ]
