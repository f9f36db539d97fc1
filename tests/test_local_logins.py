"""Local sign-in: passwords are stored only as scrypt hashes, checked in constant time, and the
first start creates an admin with a random password (never a fixed default) exactly once."""

from __future__ import annotations

import pytest

from ledger.service import Ledger
from tests.conftest import seed
from workbench.auth.local_logins import (
    FIRST_ADMIN,
    BadPassword,
    LocalLogins,
    hash_password,
    verify_password,
)
from workbench.db import schema as app_schema


@pytest.fixture
def logins(ledger: Ledger) -> LocalLogins:
    app_schema.migrate(ledger.engine)
    return LocalLogins(ledger.engine)


def test_hashes_are_salted_scrypt_and_verify() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second and first.startswith("scrypt$")
    assert "correct horse" not in first
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("anything", "not-a-hash")


def test_check_accepts_only_the_right_password(ledger: Ledger, logins: LocalLogins) -> None:
    s = seed(ledger, 0)
    logins.set_password(s.member_id, "a long enough password")
    member = ledger.user_by_id(s.member_id)
    assert logins.check(ledger, member.username, "a long enough password") == member
    assert logins.check(ledger, member.username, "a long enough passwor") is None
    assert logins.check(ledger, "nobody", "a long enough password") is None
    # A user without a local password cannot sign in with any.
    assert logins.check(ledger, ledger.user_by_id(s.admin_id).username, "") is None


def test_short_passwords_are_refused_and_nothing_changes(
    ledger: Ledger, logins: LocalLogins
) -> None:
    s = seed(ledger, 0)
    logins.set_password(s.member_id, "the first password")
    with pytest.raises(BadPassword, match="at least 10 characters"):
        logins.set_password(s.member_id, "short")
    member = ledger.user_by_id(s.member_id)
    assert logins.check(ledger, member.username, "the first password") == member


def test_the_first_admin_gets_a_random_password_once(ledger: Ledger, logins: LocalLogins) -> None:
    password = logins.create_first_admin(ledger)
    assert password is not None and len(password) >= 12
    admin = ledger.user(FIRST_ADMIN)
    assert logins.check(ledger, FIRST_ADMIN, password) == admin
    [(workspace, membership)] = ledger.memberships_of(admin.id)
    assert membership.role == "admin" and workspace.slug == "demo"
    # The first admin is an operator: someone must be able to top up and change prices.
    assert ledger.actor(admin.id).is_operator
    [event] = [e for e in ledger.audit_trail(actor_user_id=admin.id) if e.action == "user.operator"]
    assert (event.actor, event.target, event.after) == (None, str(admin.id), {"operator": True})
    assert logins.create_first_admin(ledger) is None  # never again, never reset


def test_two_first_starts_never_share_a_password(
    ledger: Ledger, logins: LocalLogins, tmp_path: object
) -> None:
    other = Ledger.open(f"sqlite:///{tmp_path}/other.db")  # type: ignore[str-bytes-safe]
    app_schema.migrate(other.engine)
    try:
        assert logins.create_first_admin(ledger) != LocalLogins(other.engine).create_first_admin(
            other
        )
    finally:
        other.close()
