"""Who may do what: three levels, checked inside every admin operation (never only by a menu).

* **member**: spends their workspace's credits;
* **workspace admin** (role ``admin`` in a workspace): manages that workspace's members, roles,
  caps and low-balance threshold, releases its holds, and sees its journal, holds and audit;
* **operator** (``users.is_operator``, for the platform or finance team): everything a workspace
  admin may do in every workspace, plus top-ups, adjustments and voids, prices, models and
  feature switches, and every workspace's audit.

A workspace admin cannot grant their own workspace credits: credits in are an operator's action.
A deactivated user is nobody: every check refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import NotAllowed, UnknownUser
from ledger.schema import memberships, users


@dataclass(frozen=True)
class Actor:
    """The acting user, as the checks see them."""

    user_id: int
    username: str
    is_operator: bool
    # The workspaces where they are an admin.
    admin_of: frozenset[int]

    def manages(self, workspace_id: int) -> bool:
        return self.is_operator or workspace_id in self.admin_of


def actor(conn: Connection, user_id: int) -> Actor:
    """The active user ``user_id`` with their levels; ``UnknownUser`` if there is none."""
    row = conn.execute(
        sa.select(users.c.username, users.c.is_operator).where(
            users.c.id == user_id, users.c.is_active.is_(True)
        )
    ).first()
    if row is None:
        raise UnknownUser(f"no active user with id {user_id!r}")
    admin_of = conn.execute(
        sa.select(memberships.c.workspace_id).where(
            memberships.c.user_id == user_id, memberships.c.role == "admin"
        )
    ).scalars()
    return Actor(user_id, row.username, bool(row.is_operator), frozenset(admin_of))


def require_operator(conn: Connection, user_id: int, action: str) -> Actor:
    who = actor(conn, user_id)
    if not who.is_operator:
        raise NotAllowed(
            f"only an operator may {action}; {who.username} is not one",
            actor_user_id=user_id,
            action=action,
        )
    return who


def require_manager(conn: Connection, user_id: int, workspace_id: int, action: str) -> Actor:
    """An admin of ``workspace_id``, or an operator."""
    who = actor(conn, user_id)
    if not who.manages(workspace_id):
        raise NotAllowed(
            f"only an admin of this workspace or an operator may {action}; "
            f"{who.username} is neither",
            actor_user_id=user_id,
            action=action,
            workspace_id=workspace_id,
        )
    return who
