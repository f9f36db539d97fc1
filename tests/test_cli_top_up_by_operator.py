"""``workbench ledger grant --by USER``: a person's top-up from the command line is an operator's,
with a reason, checked and audited like one from the Credit admin page."""

from __future__ import annotations

from pathlib import Path

from ledger.errors import UnknownUser
from ledger.service import Ledger
from tests.test_cli_ledger import db_file, ledger_cli, workbench

__all__ = ["db_file"]  # the fixture, shared with test_cli_ledger


def _balance_and_audit(db_file: Path) -> tuple[int, list[tuple[str, str | None, str | None]]]:
    book = Ledger.open(f"sqlite:///{db_file}", migrate=False)
    try:
        workspace = book.workspace("demo")
        events = book.audit_trail(actor_user_id=_operator(book), workspace_id=workspace.id)
        return (
            book.balance(workspace.account_id).available,
            [(e.action, e.actor, e.reason) for e in events],
        )
    finally:
        book.close()


def _operator(book: Ledger) -> int:
    """An operator to read the trail with (its own creation is not a workspace's event)."""
    try:
        return book.user("auditor").id
    except UnknownUser:
        user = book.create_user("auditor")
        book.set_operator(user.id, True, actor_user_id=None, reason="reads the audit trail")
        return user.id


def test_a_top_up_by_a_person_needs_an_operator_and_a_reason(db_file: Path) -> None:
    assert ledger_cli(db_file, "seed").returncode == 0
    balance, trail = _balance_and_audit(db_file)

    refused = ledger_cli(db_file, "grant", "demo", "25", "--by", "admin", "--reason", "invoice 9")
    assert refused.returncode == 2
    assert "only an operator may top up credits; admin is not one" in refused.stderr
    no_reason = ledger_cli(db_file, "grant", "demo", "25", "--by", "admin")
    assert no_reason.returncode == 2 and "a reason is required" in no_reason.stderr
    assert _balance_and_audit(db_file) == (balance, trail)

    made = workbench(db_file, "auth", "operator", "admin", "--reason", "finance team")
    assert made.returncode == 0, made.stderr
    granted = ledger_cli(
        db_file, "grant", "demo", "25", "--by", "admin", "--reason", "invoice 9", "--key", "inv-9"
    )
    assert granted.returncode == 0, granted.stderr
    again = ledger_cli(
        db_file, "grant", "demo", "25", "--by", "admin", "--reason", "invoice 9", "--key", "inv-9"
    )
    assert "already done earlier" in again.stdout
    after, after_trail = _balance_and_audit(db_file)
    assert after == balance + 25_000_000
    assert after_trail[0] == ("credits.top_up", "admin", "invoice 9")
    assert after_trail[1:] == trail


def test_a_grant_from_the_shell_without_by_is_audited_as_the_system(db_file: Path) -> None:
    ledger_cli(db_file, "seed")
    granted = ledger_cli(db_file, "grant", "demo", "5", "--reason", "goodwill")
    assert granted.returncode == 0, granted.stderr
    _, trail = _balance_and_audit(db_file)
    assert trail[0] == ("credits.grant", None, "goodwill")
