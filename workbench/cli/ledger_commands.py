"""``workbench ledger …``: the credit ledger from the command line."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import click

from ledger.amounts import credits, credits_text, format_credits
from ledger.schema import ENTRY_KINDS, GRANT_KINDS
from ledger.service import Ledger
from workbench.cli.common import CREDITS, WHOLE_NUMBER, with_ledger
from workbench.config import Settings
from workbench.db.migrate import revisions

DEMO_WORKSPACE = "demo"
DEMO_CREDITS = credits(50_000)


@click.group("ledger")
def group() -> None:
    """The credit ledger: seed, grant, balances, history, sweep, verify."""


@group.command()
def migrate() -> None:
    """Create or upgrade the schema (the ledger's and the app's) and load the price catalogue."""

    def work(book: Ledger, _config: Settings) -> None:
        print(f"schema at revision {revisions(book.engine)}")
        for model in book.priced_models():
            print(f"  priced: {model.model} ({model.feature_key}, version {model.version})")

    with_ledger(work)


def seed_demo(book: Ledger, slug: str = DEMO_WORKSPACE, credits: int = DEMO_CREDITS) -> None:
    """A demo workspace with users ``admin`` and ``member`` and promo credits."""
    workspace = book.create_workspace(slug, "Demo workspace")
    admin = book.create_user("admin", "Demo admin")
    member = book.create_user("member", "Demo member")
    book.add_member(workspace.id, admin.id, "admin")
    book.add_member(workspace.id, member.id, "member")
    book.grant(
        workspace.account_id,
        credits,
        kind="promo",
        key=f"seed-{workspace.slug}",
        reason="demo credits from workbench ledger seed",
    )
    print(
        f"seeded workspace {workspace.slug!r} (admin: 'admin', member: 'member') "
        f"with {format_credits(credits)} promo credits"
    )


@group.command()
@click.option("--if-empty", is_flag=True, help="Do nothing if workspaces exist.")
@click.option("--workspace", default=DEMO_WORKSPACE, show_default=True, help="Workspace slug.")
@click.option("--credits", type=CREDITS, default=DEMO_CREDITS, help="Promo credits (50,000).")
def seed(if_empty: bool, workspace: str, credits: int) -> None:
    """Create a demo workspace with an admin, a member and credits."""

    def work(book: Ledger, _config: Settings) -> None:
        if if_empty and book.workspaces():
            print("seed: the database already has workspaces; nothing to do")
            return
        seed_demo(book, workspace, credits)

    with_ledger(work)


@group.command()
@click.argument("workspace")
@click.argument("amount", type=CREDITS)
@click.option(
    "--kind",
    type=click.Choice(GRANT_KINDS),
    default="adjustment",
    show_default=True,
    help="Grant kind.",
)
@click.option("--expires-in-days", type=WHOLE_NUMBER, help="Expire after N days.")
@click.option("--reason", help="Why (kept in the journal).")
@click.option("--by", help="Username of the operator granting (then --reason is required).")
@click.option("--key", help="Idempotency key (re-running with it grants once).")
def grant(
    workspace: str,
    amount: int,
    kind: str,
    expires_in_days: int | None,
    reason: str | None,
    by: str | None,
    key: str | None,
) -> None:
    """Put AMOUNT credits into WORKSPACE's account (e.g. 500, 0.25 or 1,000.5)."""

    def work(book: Ledger, _config: Settings) -> None:
        account = book.workspace(workspace)
        expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        key_used = key or f"cli-grant-{secrets.token_hex(8)}"
        if by:  # a person's top-up: they must be an operator, and say why
            outcome = book.top_up(
                account.id,
                amount,
                kind=kind,
                actor_user_id=book.user(by).id,
                reason=reason or "",
                key=key_used,
                expires_at=expires,
            )
        else:  # someone with shell access to the server: the system's grant, audited as such
            outcome = book.grant(
                account.account_id,
                amount,
                kind=kind,
                key=key_used,
                expires_at=expires,
                reason=reason,
            )
        note = " (already done earlier with this key)" if outcome.replayed else ""
        amount_shown = format_credits(outcome.amount, exact=True)
        print(f"granted {amount_shown} {outcome.kind} credits to {account.slug}{note}")
        show_balance(book, workspace)

    with_ledger(work)


def show_balance(book: Ledger, slug: str) -> None:
    workspace = book.workspace(slug)
    balance = book.balance(workspace.account_id)
    print(
        f"{workspace.slug}: {format_credits(balance.available)} available, "
        f"{format_credits(balance.held)} held, {credits_text(balance.balance)} total"
    )


@group.command()
@click.argument("workspace")
def balance(workspace: str) -> None:
    """Show WORKSPACE's available, held and total credits."""
    with_ledger(lambda book, _config: show_balance(book, workspace))


@group.command()
@click.argument("workspace")
@click.option("--kind", type=click.Choice(ENTRY_KINDS), help="Only this kind of entry.")
@click.option("--limit", type=WHOLE_NUMBER, default=50, show_default=True, help="Entries.")
@click.option("--before-id", type=WHOLE_NUMBER, help="Page: entries older than this id.")
def history(workspace: str, kind: str | None, limit: int, before_id: int | None) -> None:
    """Show WORKSPACE's journal, newest first."""

    def work(book: Ledger, _config: Settings) -> None:
        account_id = book.workspace(workspace).account_id
        lines = book.history(
            account_id, kinds=[kind] if kind else None, limit=limit, before_id=before_id
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

    with_ledger(work)


def _signed(micros: int) -> str:
    """A journal line's change in credits, every decimal shown: "+5,000", "-0.234", "0"."""
    shown = format_credits(micros, exact=True)
    return f"+{shown}" if micros > 0 else shown


@group.command()
@click.option("--limit", type=WHOLE_NUMBER, default=1000, show_default=True, help="Holds per run.")
def sweep(limit: int) -> None:
    """Expire holds past their TTL and grants past expiry."""

    def work(book: Ledger, _config: Settings) -> None:
        report = book.sweep(limit=limit)
        print(
            f"expired {report.holds_expired} hold(s) and "
            f"{format_credits(report.grant_credits_expired)} grant credit(s) across "
            f"{report.accounts_swept} account(s)"
        )

    with_ledger(work)


@group.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Recompute every balance from the journal; exit 1 on a mismatch."""

    def work(book: Ledger, _config: Settings) -> int:
        problems = book.verify()
        for problem in problems:
            print(f"MISMATCH {problem}")
        print(
            "verify: the books balance" if not problems else f"verify: {len(problems)} mismatch(es)"
        )
        return 1 if problems else 0

    ctx.exit(with_ledger(work))


def show_status(book: Ledger) -> None:
    print(f"database: {book.engine.url.render_as_string(hide_password=True)}")
    print(f"schema revision: {revisions(book.engine)}")
    for workspace in book.workspaces():
        balance = book.balance(workspace.account_id)
        print(
            f"  workspace {workspace.slug!r}: {credits_text(balance.available)} available, "
            f"{format_credits(balance.held)} held"
        )


@group.command()
def status() -> None:
    """Show the database, both schema revisions and every workspace."""

    def work(book: Ledger, _config: Settings) -> None:
        show_status(book)
        print("Try a model from the terminal: workbench gateway chat 'hello' (see --help).")

    with_ledger(work)
