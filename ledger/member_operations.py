"""What the people who run a workspace do to it: members, roles, caps, the low-balance threshold,
deactivation, and the operator flag. A part of ``Ledger``.

Every operation names its acting user, checks that user's level itself (``ledger.authority``)
and writes one audit event in the transaction of the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from ledger import audit, authority, owners
from ledger.amounts import check_amount
from ledger.errors import InvalidInput, NotAllowed, UnknownUser
from ledger.owners import Membership, User
from ledger.schema import ROLES
from ledger.transactions import Transactions, check_id, check_reason


class MemberOperations(Transactions):
    # --- members (workspace admins and operators) -------------------------------------------

    def add_member_by_name(
        self, workspace_id: int, username: str, role: str, *, actor_user_id: int
    ) -> Membership:
        """Add an existing user to a workspace with a role."""

        def work(conn: Connection, now: datetime) -> Membership:
            authority.require_manager(conn, actor_user_id, workspace_id, "add members")
            user = owners.user_by_name(conn, username)
            membership = owners.add_member(conn, workspace_id, user.id, role, now)
            self._audit_member(conn, actor_user_id, "member.add", membership, None, now)
            return membership

        return self._write(work)

    def create_member(
        self,
        workspace_id: int,
        username: str,
        role: str,
        *,
        actor_user_id: int,
        display_name: str = "",
        email: str | None = None,
    ) -> User:
        """Create a user and make them a member of the workspace, in one transaction."""

        def work(conn: Connection, now: datetime) -> User:
            authority.require_manager(conn, actor_user_id, workspace_id, "add members")
            user = owners.create_user(conn, username, display_name, now, email=email)
            membership = owners.add_member(conn, workspace_id, user.id, role, now)
            # One action, one event: the new user with their membership.
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="member.create",
                workspace_id=workspace_id,
                target_kind="membership",
                target=user.id,
                after={
                    "username": user.username,
                    "email": email,
                    "role": membership.role,
                    "monthly_cap": membership.monthly_cap,
                },
                now=now,
            )
            return user

        return self._write(work)

    def set_role(
        self, workspace_id: int, user_id: int, role: str, *, actor_user_id: int
    ) -> Membership:
        """Change a member's role; a workspace keeps at least one admin."""
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}; got {role!r:.40}")

        def work(conn: Connection, now: datetime) -> Membership:
            authority.require_manager(conn, actor_user_id, workspace_id, "change roles")
            before = self._membership(conn, workspace_id, user_id)
            if before.role == "admin" and role != "admin":
                admins = [m for _, m in owners.members_of(conn, workspace_id) if m.role == "admin"]
                if len(admins) == 1:
                    raise InvalidInput("a workspace keeps at least one admin: make another first")
            after = owners.set_role(conn, workspace_id, user_id, role)
            self._audit_member(conn, actor_user_id, "member.role", after, before, now)
            return after

        return self._write(work)

    def set_member_cap(
        self, workspace_id: int, user_id: int, cap: int | None, *, actor_user_id: int
    ) -> Membership:
        """Set (micro-credits a calendar month, UTC) or clear (None) a member's monthly cap."""
        if cap is not None:
            check_amount(cap, "monthly cap", allow_zero=True)

        def work(conn: Connection, now: datetime) -> Membership:
            authority.require_manager(conn, actor_user_id, workspace_id, "set spending caps")
            before = self._membership(conn, workspace_id, user_id)
            owners.set_monthly_cap(conn, workspace_id, user_id, cap)
            after = self._membership(conn, workspace_id, user_id)
            self._audit_member(conn, actor_user_id, "member.cap", after, before, now)
            return after

        return self._write(work)

    def set_user_active(
        self, user_id: int, active: bool, *, actor_user_id: int, reason: str
    ) -> None:
        """Deactivate a user (they can no longer sign in or spend; their history stays) or
        reactivate them. Operators for anyone; a workspace admin only for users whose every
        workspace they run. Nobody deactivates themselves."""
        check_id(user_id, "user id")
        if not isinstance(active, bool):
            raise InvalidInput(f"active must be True or False, got {active!r:.40}")
        reason = check_reason(reason)

        def work(conn: Connection, now: datetime) -> None:
            who = authority.actor(conn, actor_user_id)
            target = owners.user_by_id(conn, user_id)
            if user_id == actor_user_id:
                raise InvalidInput("you cannot deactivate or reactivate yourself")
            theirs = [w.id for w, _ in owners.memberships_of(conn, user_id)]
            # An operator runs every workspace: only another operator may deactivate one.
            runs_theirs = bool(theirs) and all(who.manages(w) for w in theirs)
            if not who.is_operator and (owners.is_operator(conn, user_id) or not runs_theirs):
                raise NotAllowed(
                    f"only an operator, or (for someone who is not an operator) an admin of every "
                    f"workspace {target.username} belongs to, may "
                    f"{'reactivate' if active else 'deactivate'} them",
                    actor_user_id=actor_user_id,
                    action="deactivate users",
                )
            was = owners.is_active(conn, user_id)
            owners.set_active(conn, user_id, active)
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="user.activate" if active else "user.deactivate",
                workspace_id=theirs[0] if len(theirs) == 1 else None,
                target_kind="user",
                target=user_id,
                reason=reason,
                before={"active": was},
                after={"active": active},
                now=now,
            )

        self._write(work)

    def set_operator(
        self, user_id: int, operator: bool, *, actor_user_id: int | None, reason: str
    ) -> None:
        """Make a user an operator or take it away: an operator's action, or the command line's
        (``actor_user_id`` None: someone with shell access to the server)."""
        check_id(user_id, "user id")
        reason = check_reason(reason)

        def work(conn: Connection, now: datetime) -> None:
            if actor_user_id is not None:
                authority.require_operator(conn, actor_user_id, "make or unmake operators")
            owners.user_by_id(conn, user_id)
            was = owners.is_operator(conn, user_id)
            owners.set_operator(conn, user_id, operator)
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="user.operator",
                target_kind="user",
                target=user_id,
                reason=reason,
                before={"operator": was},
                after={"operator": operator},
                now=now,
            )

        self._write(work)

    def set_low_balance_threshold(
        self, workspace_id: int, threshold: int | None, *, actor_user_id: int
    ) -> None:
        """Below ``threshold`` available micro-credits every page of the workspace warns (None:
        never)."""
        if threshold is not None:
            check_amount(threshold, "low-balance threshold", allow_zero=True)

        def work(conn: Connection, now: datetime) -> None:
            authority.require_manager(
                conn, actor_user_id, workspace_id, "set the low-balance threshold"
            )
            before = owners.low_balance_threshold(conn, workspace_id)
            owners.set_low_balance_threshold(conn, workspace_id, threshold)
            audit.record(
                conn,
                actor_user_id=actor_user_id,
                action="workspace.threshold",
                workspace_id=workspace_id,
                target_kind="workspace",
                target=workspace_id,
                before={"low_balance_threshold": before},
                after={"low_balance_threshold": threshold},
                now=now,
            )

        self._write(work)

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _membership(conn: Connection, workspace_id: int, user_id: int) -> Membership:
        membership = owners.membership(conn, workspace_id, user_id)
        if membership is None:
            raise UnknownUser(f"user {user_id} is not a member of this workspace")
        return membership

    @staticmethod
    def _audit_member(
        conn: Connection,
        actor_user_id: int,
        action: str,
        after: Membership,
        before: Membership | None,
        now: datetime,
    ) -> None:
        def values(m: Membership) -> dict[str, Any]:
            return {"role": m.role, "monthly_cap": m.monthly_cap}

        audit.record(
            conn,
            actor_user_id=actor_user_id,
            action=action,
            workspace_id=after.workspace_id,
            target_kind="membership",
            target=after.user_id,
            before=None if before is None else values(before),
            after=values(after),
            now=now,
        )
