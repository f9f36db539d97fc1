#!/usr/bin/env python3
"""ledgerctl: the credit ledger from the command line.

    ledgerctl migrate                    create or upgrade the schema, load the price catalogue
    ledgerctl seed [--if-empty]          a demo workspace with an admin, a member and credits
    ledgerctl grant WORKSPACE AMOUNT     put credits into a workspace's account
    ledgerctl balance WORKSPACE          available, held and total credits
    ledgerctl history WORKSPACE          the account's journal, newest first
    ledgerctl sweep                      expire holds past their TTL and grants past expiry
    ledgerctl verify                     recompute every balance from the journal (exit 1 if off)
    ledgerctl status                     the database, its schema revision and every workspace

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
from ledger.amounts import credits, credits_text, format_credits
from ledger.schema import ENTRY_KINDS, GRANT_KINDS
from ledger.service import Ledger
from workbench.cli import Parser, positive_credits, positive_int, run_with_ledger

DEMO_WORKSPACE = "demo"
DEMO_CREDITS = credits(50_000)


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
        f"with {format_credits(args.credits)} promo credits"
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
    amount = format_credits(outcome.amount, exact=True)
    print(f"granted {amount} {outcome.kind} credits to {workspace.slug}{note}")
    return cmd_balance(book, args)


def cmd_balance(book: Ledger, args: argparse.Namespace) -> int:
    workspace = book.workspace(args.workspace)
    balance = book.balance(workspace.account_id)
    print(
        f"{workspace.slug}: {format_credits(balance.available)} available, "
        f"{format_credits(balance.held)} held, {credits_text(balance.balance)} total"
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
            f"{_signed(line.balance_delta):>15} {_signed(line.held_delta):>15} held  {ref:<12} "
            f"{line.reason or ''}"
        )
    return 0


def _signed(micros: int) -> str:
    """A journal line's change in credits, every decimal shown: "+5,000", "-0.234", "0"."""
    shown = format_credits(micros, exact=True)
    return f"+{shown}" if micros > 0 else shown


def cmd_sweep(book: Ledger, args: argparse.Namespace) -> int:
    report = book.sweep(limit=args.limit)
    print(
        f"expired {report.holds_expired} hold(s) and "
        f"{format_credits(report.grant_credits_expired)} grant credit(s) across "
        f"{report.accounts_swept} account(s)"
    )
    return 0


def cmd_verify(book: Ledger, args: argparse.Namespace) -> int:
    problems = book.verify()
    for problem in problems:
        print(f"MISMATCH {problem}")
    print("verify: the books balance" if not problems else f"verify: {len(problems)} mismatch(es)")
    return 1 if problems else 0


def cmd_status(book: Ledger, args: argparse.Namespace) -> int:
    print(f"database: {book.engine.url.render_as_string(hide_password=True)}")
    print(f"schema revision: {db.current_revision(book.engine)}")
    for workspace in book.workspaces():
        balance = book.balance(workspace.account_id)
        print(
            f"  workspace {workspace.slug!r}: {credits_text(balance.available)} available, "
            f"{format_credits(balance.held)} held"
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

    add("migrate", cmd_migrate, "Create or upgrade the schema and load the price catalogue.")
    seed = add("seed", cmd_seed, "Create a demo workspace with an admin, a member and credits.")
    seed.add_argument("--if-empty", action="store_true", help="do nothing if workspaces exist")
    seed.add_argument("--workspace", default=DEMO_WORKSPACE, help="slug (default: demo)")
    seed.add_argument(
        "--credits", type=positive_credits, default=DEMO_CREDITS, help="promo credits (50,000)"
    )

    grant = add("grant", cmd_grant, "Put credits into a workspace's account.")
    grant.add_argument("workspace", help="workspace slug")
    grant.add_argument(
        "amount", type=positive_credits, help="credits, > 0 (e.g. 500, 0.25 or 1,000.5)"
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_ledger("ledgerctl", args.database_url, lambda book, _: args.handler(book, args))


if __name__ == "__main__":
    sys.exit(main())
