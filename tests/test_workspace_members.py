"""Who belongs where: a workspace's members (by username, with role and cap) and a user's
workspaces, each seen only from its own side."""

from __future__ import annotations

from ledger.amounts import credits
from ledger.service import Ledger


def test_members_and_memberships_mirror_each_other(ledger: Ledger) -> None:
    acme = ledger.create_workspace("acme", "Acme")
    beta = ledger.create_workspace("beta", "Beta")
    zoe = ledger.create_user("zoe", "Zoe")
    al = ledger.create_user("al", "Al")
    ledger.add_member(acme.id, zoe.id, "admin")
    ledger.add_member(acme.id, al.id, "member", monthly_cap=credits(500))
    ledger.add_member(beta.id, al.id, "admin")

    assert [(u.username, m.role, m.monthly_cap) for u, m in ledger.members_of(acme.id)] == [
        ("al", "member", credits(500)),
        ("zoe", "admin", None),
    ]
    assert [(u.username, m.role) for u, m in ledger.members_of(beta.id)] == [("al", "admin")]
    assert [(w.slug, m.role) for w, m in ledger.memberships_of(al.id)] == [
        ("acme", "member"),
        ("beta", "admin"),
    ]
    assert all(m.workspace_id == acme.id for _, m in ledger.members_of(acme.id))


def test_a_new_workspace_has_no_members(ledger: Ledger) -> None:
    empty = ledger.create_workspace("empty")
    assert ledger.members_of(empty.id) == []
