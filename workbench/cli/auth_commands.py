"""``workbench auth …``: local sign-in accounts (auth mode ``local``)."""

from __future__ import annotations

import getpass
import secrets
import sys

import click

from ledger.service import Ledger
from workbench.auth.local_logins import BadPassword, LocalLogins
from workbench.cli.common import with_ledger
from workbench.config import Settings

random_option = click.option("--random", is_flag=True, help="Generate a password and print it.")


@click.group("auth")
def group() -> None:
    """Local sign-in: set passwords, add people to a workspace, make operators."""


def _password(user: str, random: bool) -> str:
    if random:
        password = secrets.token_urlsafe(12)
        print(f"password for {user!r}: {password}")
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"new password for {user}: ")
    if first != getpass.getpass("again: "):
        raise BadPassword("the two passwords differ")
    return first


@group.command("set-password")
@click.argument("user")
@random_option
def set_password(user: str, random: bool) -> None:
    """Set USER's password (asked for, read from stdin, or --random)."""

    def work(book: Ledger, _config: Settings) -> None:
        found = book.user(user)
        LocalLogins(book.engine).set_password(found.id, _password(user, random))
        print(f"password set for {found.username!r}")

    with_ledger(work)


@group.command("add-user")
@click.argument("user")
@click.argument("workspace")
@click.option("--admin", is_flag=True, help="As the workspace's admin.")
@click.option("--name", help="Display name.")
@random_option
def add_user(user: str, workspace: str, admin: bool, name: str | None, random: bool) -> None:
    """Create USER in WORKSPACE, with a password."""

    def work(book: Ledger, _config: Settings) -> None:
        found = book.workspace(workspace)
        created = book.create_user(user, name or user)
        book.add_member(found.id, created.id, "admin" if admin else "member")
        LocalLogins(book.engine).set_password(created.id, _password(user, random))
        print(f"added {created.username!r} to {found.slug!r}")

    with_ledger(work)


@group.command("operator")
@click.argument("user")
@click.option("--off", is_flag=True, help="Take the operator level away instead.")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def operator(user: str, off: bool, reason: str) -> None:
    """Make USER an operator (top-ups, prices, switches, every workspace), or --off."""

    def work(book: Ledger, _config: Settings) -> None:
        found = book.user(user)
        book.set_operator(found.id, not off, actor_user_id=None, reason=reason)
        print(f"{found.username!r} is {'no longer ' if off else 'now '}an operator")

    with_ledger(work)
