#!/usr/bin/env python3
"""ledgerctl: the credit ledger from the command line.

    ledgerctl migrate                    create or upgrade the schema (an empty one is seeded
                                         from the catalogue files in data/)
    ledgerctl seed [--if-empty]          a demo workspace with an admin, a member and credits
    ledgerctl grant WORKSPACE AMOUNT     put credits into a workspace's account
    ledgerctl balance WORKSPACE          available, held and total credits
    ledgerctl history WORKSPACE          the account's journal, newest first
    ledgerctl sweep                      expire holds past their TTL and grants past expiry
    ledgerctl verify                     recompute every balance from the journal (exit 1 if off)
    ledgerctl status                     the database, its schema revision and every workspace
    ledgerctl prices import FILE         add a price version for every model FILE prices
                                         differently (--dry-run: only show them)

The database is ``WORKBENCH_DATABASE_URL`` (default: SQLite under data/), or ``--database-url``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from ledger import db
from ledger.schema import ENTRY_KINDS, GRANT_KINDS
from ledger.service import Ledger
from workbench.cli import Parser, positive_int, run_with_ledger

DEMO_WORKSPACE = "demo"
DEMO_CREDITS = 50_000


def cmd_migrate(book: Ledger, args: argparse.Namespace) -> int:
    print(f"schema at revision {db.current_revision(book.engine)}")
    for model in book.priced_models():
        print(f"  priced: {model.model} ({model.feature_key}, version {model.version})")
    return 0


def cmd_seed(book: Ledger, args: argparse.Namespace) -> int:
    if args.if_empty and book.workspaces():
        print("seed: the database already has workspaces; nothing to do")
        return 0
    workspace = book.create_workspace(args.workspace, "Demo workspace")
    admin = book.create_user("admin", "Demo admin")
    member = book.create_user("member", "Demo member")
    book.add_member(workspace.id, admin.id, "admin")
    book.add_member(workspace.id, member.id, "member")
    book.grant(
        workspace.account_id,
        args.credits,
        kind="promo",
        key=f"seed-{workspace.slug}",
        reason="demo credits from ledgerctl seed",
    )
    print(
        f"seeded workspace {workspace.slug!r} (admin: 'admin', member: 'member') "
        f"with {args.credits:,} promo credits"
    )
    return 0


def cmd_grant(book: Ledger, args: argparse.Namespace) -> int:
    workspace = book.workspace(args.workspace)
    actor = book.user(args.by).id if args.by else None
    expires = (
        datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    )
    outcome = book.grant(
        workspace.account_id,
        args.amount,
        kind=args.kind,
        key=args.key or f"cli-grant-{secrets.token_hex(8)}",
        expires_at=expires,
        actor_user_id=actor,
        reason=args.reason,
    )
    note = " (already done earlier with this key)" if outcome.replayed else ""
    print(f"granted {outcome.amount:,} {outcome.kind} credits to {workspace.slug}{note}")
    return cmd_balance(book, args)


def cmd_balance(book: Ledger, args: argparse.Namespace) -> int:
    workspace = book.workspace(args.workspace)
    balance = book.balance(workspace.account_id)
    print(
        f"{workspace.slug}: {balance.available:,} available, {balance.held:,} held, "
        f"{balance.balance:,} total"
    )
    return 0


def cmd_history(book: Ledger, args: argparse.Namespace) -> int:
    workspace = book.workspace(args.workspace)
    lines = book.history(
        workspace.account_id,
        kinds=[args.kind] if args.kind else None,
        limit=args.limit,
        before_id=args.before_id,
    )
    if not lines:
        print("no entries")
    for line in lines:
        ref = f"hold {line.hold_id}" if line.hold_id else f"grant {line.grant_id}"
        print(
            f"{line.id:>8}  {line.created_at:%Y-%m-%d %H:%M:%S}Z  {line.kind:<10} "
            f"{line.balance_delta:>+12,} {line.held_delta:>+12,} held  {ref:<12} "
            f"{line.reason or ''}"
        )
    return 0


def cmd_sweep(book: Ledger, args: argparse.Namespace) -> int:
    report = book.sweep(limit=args.limit)
    print(
        f"expired {report.holds_expired} hold(s) and {report.grant_credits_expired:,} grant "
        f"credit(s) across {report.accounts_swept} account(s)"
    )
    return 0


def cmd_verify(book: Ledger, args: argparse.Namespace) -> int:
    problems = book.verify()
    for problem in problems:
        print(f"MISMATCH {problem}")
    print("verify: the books balance" if not problems else f"verify: {len(problems)} mismatch(es)")
    return 1 if problems else 0


def cmd_prices_import(book: Ledger, args: argparse.Namespace) -> int:
    actor = book.user(args.by).id if args.by else None
    changes = book.import_prices(
        Path(args.file),
        actor_user_id=actor,
        reason=args.reason,
        dry_run=args.dry_run,
        withdraw_missing=args.withdraw_missing,
    )
    for change in changes:
        print(f"  {change.describe()}")
    if not changes:
        print(f"prices: {args.file} matches the current prices; nothing to import")
    elif args.dry_run:
        print(f"dry run: {len(changes)} new price version(s) would be added; nothing was written")
    else:
        print(f"imported {len(changes)} new price version(s)")
    return 0


def cmd_status(book: Ledger, args: argparse.Namespace) -> int:
    print(f"database: {book.engine.url.render_as_string(hide_password=True)}")
    print(f"schema revision: {db.current_revision(book.engine)}")
    for workspace in book.workspaces():
        balance = book.balance(workspace.account_id)
        print(
            f"  workspace {workspace.slug!r}: {balance.available:,} credits available, "
            f"{balance.held:,} held"
        )
    print("Try a model from the terminal: scripts/gatewayctl.py chat 'hello' (see --help).")
    return 0


def build_parser() -> Parser:
    parser = Parser(
        prog="ledgerctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: WORKBENCH_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def add(name: str, handler: Callable[[Ledger, argparse.Namespace], int], text: str) -> Parser:
        command: Parser = sub.add_parser(name, help=text, description=text)
        command.set_defaults(handler=handler)
        return command

    add(
        "migrate",
        cmd_migrate,
        "Create or upgrade the schema; an empty database is seeded from the catalogue files.",
    )
    seed = add("seed", cmd_seed, "Create a demo workspace with an admin, a member and credits.")
    seed.add_argument("--if-empty", action="store_true", help="do nothing if workspaces exist")
    seed.add_argument("--workspace", default=DEMO_WORKSPACE, help="slug (default: demo)")
    seed.add_argument("--credits", type=positive_int, default=DEMO_CREDITS, help="promo credits")

    grant = add("grant", cmd_grant, "Put credits into a workspace's account.")
    grant.add_argument("workspace", help="workspace slug")
    grant.add_argument("amount", type=positive_int, help="whole credits, > 0")
    grant.add_argument("--kind", choices=GRANT_KINDS, default="adjustment", help="grant kind")
    grant.add_argument("--expires-in-days", type=positive_int, help="expire after N days")
    grant.add_argument("--reason", help="why (kept in the journal)")
    grant.add_argument("--by", help="username of the admin granting")
    grant.add_argument("--key", help="idempotency key (re-running with it grants once)")

    balance = add("balance", cmd_balance, "Show a workspace's available, held and total credits.")
    balance.add_argument("workspace", help="workspace slug")

    history = add("history", cmd_history, "Show a workspace's journal, newest first.")
    history.add_argument("workspace", help="workspace slug")
    history.add_argument("--kind", choices=ENTRY_KINDS, help="only this kind of entry")
    history.add_argument("--limit", type=positive_int, default=50, help="entries (default 50)")
    history.add_argument("--before-id", type=positive_int, help="page: entries older than this id")

    sweep = add("sweep", cmd_sweep, "Expire holds past their TTL and grants past expiry.")
    sweep.add_argument("--limit", type=positive_int, default=1000, help="holds per run")

    add("verify", cmd_verify, "Recompute every balance from the journal; exit 1 on a mismatch.")
    add("status", cmd_status, "Show the database, its schema revision and every workspace.")

    text = "Prices in the database: import a catalogue file (see: prices import --help)."
    prices: Parser = sub.add_parser("prices", help=text, description=text)
    prices_sub = prices.add_subparsers(
        dest="prices_command", metavar="import", required=True, parser_class=Parser
    )
    text = (
        "Add a price version for every model FILE prices differently from the database (each "
        "version records who imported it and when). Models FILE does not list keep their "
        "prices unless --withdraw-missing."
    )
    imported: Parser = prices_sub.add_parser("import", help=text, description=text)
    imported.set_defaults(handler=cmd_prices_import)
    imported.add_argument("file", help="a price catalogue in the format of data/prices.toml")
    imported.add_argument(
        "--dry-run", action="store_true", help="show the versions it would add; write nothing"
    )
    imported.add_argument(
        "--withdraw-missing",
        action="store_true",
        help="make models the file does not list unpriced (they can then not be used)",
    )
    imported.add_argument("--by", help="username of the operator importing (default: none)")
    imported.add_argument("--reason", help="why (kept with each new version)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_ledger("ledgerctl", args.database_url, lambda book, _: args.handler(book, args))


if __name__ == "__main__":
    sys.exit(main())
