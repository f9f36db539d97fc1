"""Who may see which usage: the viewer's ``Scope``, enforced by every query in the analytics layer.

- An operator sees everything.
- A workspace admin sees every row of the workspaces they run (``Actor.admin_of``), and their own
  rows anywhere.
- A member sees their own rows in full, and of their current workspace only totals
  (``queries.workspace_totals``): never another person's rows or names.

Filters are checked against the scope before any query runs: naming a workspace or a person the
viewer may not see is an ``AnalyticsError`` with a sentence, never an empty answer that could be
mistaken for "no usage".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ledger import errors as ledger_errors
from ledger.authority import Actor
from workbench.analytics.errors import AnalyticsError

if TYPE_CHECKING:
    from ledger.service import Ledger


class Level(StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True)
class Scope:
    """What one viewer may see. Build it with ``Scope.of`` or ``scope_for``, not by hand."""

    viewer_id: int
    level: Level
    # The workspace the viewer is looking at (their totals for a member); None for an operator
    # looking across every workspace.
    workspace_id: int | None
    # Workspaces whose every row the viewer sees (an admin's); empty for a member or operator.
    managed: frozenset[int]
    # Workspaces the viewer belongs to or runs: the ones their filters may name.
    reachable: frozenset[int]

    @classmethod
    def of(cls, actor: Actor, workspace_id: int | None, member_of: Iterable[int] = ()) -> Scope:
        """The scope of ``actor`` viewing ``workspace_id`` (None: no current workspace, for an
        operator). ``member_of`` lists the workspaces the actor belongs to; a non-operator must
        belong to or run the current workspace."""
        reachable = frozenset(member_of) | actor.admin_of
        if actor.is_operator:
            return cls(actor.user_id, Level.OPERATOR, workspace_id, frozenset(), reachable)
        if workspace_id is None or workspace_id not in reachable:
            raise AnalyticsError(
                f"{actor.username} is not a member of workspace {workspace_id}: "
                "choose one of your workspaces"
            )
        level = Level.ADMIN if actor.admin_of else Level.MEMBER
        return cls(actor.user_id, level, workspace_id, actor.admin_of, reachable)

    @property
    def sees_everything(self) -> bool:
        return self.level is Level.OPERATOR

    def row_predicate(self, alias: str = "") -> tuple[str, list[object]]:
        """The SQL condition (with its parameters) on usage rows this viewer may see in full."""
        prefix = f"{alias}." if alias else ""
        if self.sees_everything:
            return "TRUE", []
        if self.managed:
            managed = sorted(self.managed)
            marks = ", ".join("?" for _ in managed)
            return (
                f"({prefix}workspace_id IN ({marks}) OR {prefix}user_id = ?)",
                [*managed, self.viewer_id],
            )
        return f"{prefix}user_id = ?", [self.viewer_id]

    def check_workspaces(self, workspace_ids: Iterable[int]) -> None:
        """Refuse a filter naming a workspace this viewer does not belong to or run."""
        if self.sees_everything:
            return
        foreign = sorted(set(workspace_ids) - self.reachable)
        if foreign:
            raise AnalyticsError(
                f"you cannot see usage of workspace {', '.join(map(str, foreign))}: "
                "filter only by your own workspaces"
            )

    def check_users(self, user_ids: Iterable[int]) -> None:
        """Refuse a member's filter naming anyone but themselves (an admin's or operator's
        filters are narrowed by the row predicate and need no check)."""
        if self.level is not Level.MEMBER:
            return
        others = sorted(set(user_ids) - {self.viewer_id})
        if others:
            raise AnalyticsError(
                "as a member you can see only your own usage, not that of user "
                f"{', '.join(map(str, others))}"
            )

    def check_totals_workspace(self, workspace_id: int) -> None:
        """Refuse workspace totals of a workspace the viewer does not belong to or run."""
        self.check_workspaces([workspace_id])


def scope_for(ledger: Ledger, user_id: int, workspace_id: int | None) -> Scope:
    """The scope of active user ``user_id`` viewing ``workspace_id``, read from the ledger. An
    unknown or deactivated user is an ``AnalyticsError``."""
    try:
        actor = ledger.actor(user_id)
    except ledger_errors.UnknownUser as error:
        raise AnalyticsError(f"there is no active user {user_id}") from error
    member_of = [workspace.id for workspace, _ in ledger.memberships_of(user_id)]
    return Scope.of(actor, workspace_id, member_of)
