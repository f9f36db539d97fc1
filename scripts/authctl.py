#!/usr/bin/env python3
"""authctl: local sign-in accounts (auth mode ``local``).

    authctl set-password USER            set a user's password (asked for, or --random)
    authctl add-user USER WORKSPACE      create a user as a member (or --admin) of a workspace

The database is ``WORKBENCH_DATABASE_URL`` (default: SQLite under data/), or ``--database-url``.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from ledger.service import Ledger
from workbench.auth.local_logins import BadPassword, LocalLogins
from workbench.cli import Parser, run_with_ledger
from workbench.db import schema as app_schema


def _password(args: argparse.Namespace) -> str:
    if args.random:
        password = secrets.token_urlsafe(12)
        print(f"password for {args.user!r}: {password}")
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"new password for {args.user}: ")
    if first != getpass.getpass("again: "):
        raise BadPassword("the two passwords differ")
    return first


def cmd_set_password(book: Ledger, args: argparse.Namespace) -> int:
    user = book.user(args.user)
    LocalLogins(book.engine).set_password(user.id, _password(args))
    print(f"password set for {user.username!r}")
    return 0


def cmd_add_user(book: Ledger, args: argparse.Namespace) -> int:
    workspace = book.workspace(args.workspace)
    user = book.create_user(args.user, args.name or args.user)
    book.add_member(workspace.id, user.id, "admin" if args.admin else "member")
    LocalLogins(book.engine).set_password(user.id, _password(args))
    print(f"added {user.username!r} to {workspace.slug!r}")
    return 0


def build_parser() -> Parser:
    parser = Parser(
        prog="authctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: WORKBENCH_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def add(name: str, handler: Callable[[Ledger, argparse.Namespace], int], text: str) -> Parser:
        command: Parser = sub.add_parser(name, help=text, description=text)
        command.set_defaults(handler=handler)
        command.add_argument("user", help="username")
        command.add_argument("--random", action="store_true", help="generate and print one")
        return command

    add("set-password", cmd_set_password, "Set a user's password (asked for, or --random).")
    new = add("add-user", cmd_add_user, "Create a user in a workspace, with a password.")
    new.add_argument("workspace", help="workspace slug")
    new.add_argument("--admin", action="store_true", help="as the workspace's admin")
    new.add_argument("--name", help="display name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def work(book: Ledger, _config: object) -> int:
        app_schema.migrate(book.engine)
        code: int = args.handler(book, args)
        return code

    return run_with_ledger("authctl", args.database_url, work)


if __name__ == "__main__":
    sys.exit(main())
