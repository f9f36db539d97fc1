"""Who owns credits: workspaces (each with its account), users, and memberships with a role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.amounts import check_amount
from ledger.errors import AlreadyExists, InvalidInput, UnknownUser, UnknownWorkspace
from ledger.schema import ROLES, accounts, memberships, users, workspaces

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


@dataclass(frozen=True)
class Workspace:
    id: int
    slug: str
    name: str
    account_id: int


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str


@dataclass(frozen=True)
class Membership:
    workspace_id: int
    user_id: int
    role: str
    monthly_cap: int | None


def create_workspace(conn: Connection, slug: str, name: str, now: datetime) -> Workspace:
    """A workspace and its credit account, created together so neither exists alone."""
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise InvalidInput(
            f"workspace slug must be lowercase letters, digits, _ or -; got {slug!r}"
        )
    if conn.execute(sa.select(workspaces.c.id).where(workspaces.c.slug == slug)).first():
        raise AlreadyExists(f"workspace {slug!r} already exists")
    workspace_id = conn.execute(
        workspaces.insert()
        .values(slug=slug, name=name or slug, created_at=now)
        .returning(workspaces.c.id)
    ).scalar_one()
    account_id = conn.execute(
        accounts.insert()
        .values(workspace_id=workspace_id, name="main", created_at=now)
        .returning(accounts.c.id)
    ).scalar_one()
    return Workspace(id=workspace_id, slug=slug, name=name or slug, account_id=account_id)


def create_user(
    conn: Connection, username: str, display_name: str, now: datetime, email: str | None = None
) -> User:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise InvalidInput(f"username must be letters, digits, _ . @ or -; got {username!r}")
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        raise AlreadyExists(f"user {username!r} already exists")
    user_id = conn.execute(
        users.insert()
        .values(
            username=username, display_name=display_name or username, email=email, created_at=now
        )
        .returning(users.c.id)
    ).scalar_one()
    return User(id=user_id, username=username, display_name=display_name or username)


def add_member(
    conn: Connection,
    workspace_id: int,
    user_id: int,
    role: str,
    now: datetime,
    monthly_cap: int | None = None,
) -> Membership:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if monthly_cap is not None:
        check_amount(monthly_cap, "monthly cap", allow_zero=True)
    workspace_by_id(conn, workspace_id)
    user_by_id(conn, user_id)
    existing = sa.select(memberships.c.id).where(
        memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
    )
    if conn.execute(existing).first():
        raise AlreadyExists(f"user {user_id} is already a member of workspace {workspace_id}")
    conn.execute(
        memberships.insert().values(
            workspace_id=workspace_id,
            user_id=user_id,
            role=role,
            monthly_cap=monthly_cap,
            created_at=now,
        )
    )
    return Membership(workspace_id, user_id, role, monthly_cap)


def set_monthly_cap(conn: Connection, workspace_id: int, user_id: int, cap: int | None) -> None:
    if cap is not None:
        check_amount(cap, "monthly cap", allow_zero=True)
    result = conn.execute(
        memberships.update()
        .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
        .values(monthly_cap=cap)
    )
    if result.rowcount == 0:
        raise UnknownUser(f"user {user_id} is not a member of workspace {workspace_id}")


def workspace_by_id(conn: Connection, workspace_id: int) -> Workspace:
    row = conn.execute(
        sa.select(workspaces, accounts.c.id.label("account_id"))
        .join(accounts, accounts.c.workspace_id == workspaces.c.id)
        .where(workspaces.c.id == workspace_id, accounts.c.name == "main")
    ).first()
    if row is None:
        raise UnknownWorkspace(f"no workspace with id {workspace_id!r}")
    return Workspace(row.id, row.slug, row.name, row.account_id)


def all_workspaces(conn: Connection) -> list[Workspace]:
    query = (
        sa.select(workspaces, accounts.c.id.label("account_id"))
        .join(accounts, accounts.c.workspace_id == workspaces.c.id)
        .where(accounts.c.name == "main")
        .order_by(workspaces.c.slug)
    )
    return [Workspace(row.id, row.slug, row.name, row.account_id) for row in conn.execute(query)]


def workspace_by_slug(conn: Connection, slug: str) -> Workspace:
    row = conn.execute(sa.select(workspaces.c.id).where(workspaces.c.slug == slug)).first()
    if row is None:
        raise UnknownWorkspace(f"no workspace named {slug!r}")
    return workspace_by_id(conn, row.id)


def user_by_id(conn: Connection, user_id: int) -> User:
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise UnknownUser(f"no user with id {user_id!r}")
    return User(row.id, row.username, row.display_name)


def user_by_name(conn: Connection, username: str) -> User:
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    if row is None:
        raise UnknownUser(f"no user named {username!r}")
    return User(row.id, row.username, row.display_name)


def user_by_email(conn: Connection, email: str) -> User:
    """The active user with this email (compared case-insensitively), for single sign-on."""
    row = conn.execute(
        sa.select(users).where(
            sa.func.lower(users.c.email) == email.strip().lower(), users.c.is_active.is_(True)
        )
    ).first()
    if row is None:
        raise UnknownUser(f"no user with email {email!r}")
    return User(row.id, row.username, row.display_name)


def is_active(conn: Connection, user_id: int) -> bool:
    active = conn.execute(sa.select(users.c.is_active).where(users.c.id == user_id)).scalar()
    return bool(active)


def membership(conn: Connection, workspace_id: int, user_id: int) -> Membership | None:
    row = conn.execute(
        sa.select(memberships).where(
            memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
        )
    ).first()
    if row is None:
        return None
    return Membership(row.workspace_id, row.user_id, row.role, row.monthly_cap)


def memberships_of(conn: Connection, user_id: int) -> list[tuple[Workspace, Membership]]:
    """A user's workspaces with their role in each, by workspace slug (sign-in, navigation)."""
    query = (
        sa.select(
            workspaces,
            accounts.c.id.label("account_id"),
            memberships.c.role,
            memberships.c.monthly_cap,
        )
        .join(accounts, accounts.c.workspace_id == workspaces.c.id)
        .join(memberships, memberships.c.workspace_id == workspaces.c.id)
        .where(accounts.c.name == "main", memberships.c.user_id == user_id)
        .order_by(workspaces.c.slug)
    )
    return [
        (
            Workspace(row.id, row.slug, row.name, row.account_id),
            Membership(row.id, user_id, row.role, row.monthly_cap),
        )
        for row in conn.execute(query)
    ]


def members_of(conn: Connection, workspace_id: int) -> list[tuple[User, Membership]]:
    """A workspace's members with their role and cap, by username (the credit admin's tables)."""
    query = (
        sa.select(users, memberships.c.role, memberships.c.monthly_cap)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.workspace_id == workspace_id)
        .order_by(users.c.username)
    )
    return [
        (
            User(row.id, row.username, row.display_name),
            Membership(workspace_id, row.id, row.role, row.monthly_cap),
        )
        for row in conn.execute(query)
    ]


def set_role(conn: Connection, workspace_id: int, user_id: int, role: str) -> Membership:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    result = conn.execute(
        memberships.update()
        .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
        .values(role=role)
    )
    if result.rowcount == 0:
        raise UnknownUser(f"user {user_id} is not a member of workspace {workspace_id}")
    found = membership(conn, workspace_id, user_id)
    assert found is not None
    return found


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(is_active=active))


def is_operator(conn: Connection, user_id: int) -> bool:
    flag = conn.execute(sa.select(users.c.is_operator).where(users.c.id == user_id)).scalar()
    return bool(flag)


def set_operator(conn: Connection, user_id: int, operator: bool) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(is_operator=operator))


def low_balance_threshold(conn: Connection, workspace_id: int) -> int | None:
    workspace_by_id(conn, workspace_id)
    value = conn.execute(
        sa.select(workspaces.c.low_balance_threshold).where(workspaces.c.id == workspace_id)
    ).scalar()
    return None if value is None else int(value)


def set_low_balance_threshold(conn: Connection, workspace_id: int, threshold: int | None) -> None:
    conn.execute(
        workspaces.update()
        .where(workspaces.c.id == workspace_id)
        .values(low_balance_threshold=threshold)
    )
