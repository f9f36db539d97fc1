"""Synthetic usage written through the ledger, the way the gateway settles real calls (see
``workbench.analytics.synthetic`` for the plan): ``reserve``, then ``capture`` with the usage row
(ok, cancelled), ``release`` with it (provider errors), ``record_timeout`` (timeouts: the hold
stays pending until the sweeper expires it), or ``record_refusal`` for a reserve refused by a
monthly cap. So every planned call is exactly one usage row, with the journal lines a real call
would have. A ``Ledger`` over the same engine with a ``MovableClock`` stamps each row at its time
on the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ledger.errors import CapExceeded, HoldNotPending, IdempotencyConflict, NotFound
from ledger.service import Ledger
from ledger.statuses import HoldStatus, UsageStatus
from workbench.analytics.synthetic import (
    GRANT_REASON,
    TOP_UP,
    Member,
    Plan,
    PlannedCall,
    workspace_slug,
)

# --- writing through the ledger -------------------------------------------------------------------


class MovableClock:
    """The ledger's clock, set by the writer to each moment of the synthetic timeline."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class SeedReport:
    """What a run did. ``written`` calls are new; ``already`` were there from an earlier run
    with the same plan (replayed, nothing added)."""

    events: int = 0
    written: int = 0
    already: int = 0
    captured: int = 0  # micro-credits captured by the new calls
    granted: int = 0  # micro-credits of new top-ups
    by_status: dict[str, int] = field(default_factory=dict)
    workspaces: int = 0
    users: int = 0
    created: int = 0  # workspaces, users and memberships created by this run
    skipped: int = 0  # calls that could not be completed (see ``write``)


@dataclass(frozen=True)
class Seat:
    account_id: int
    user_id: int
    workspace: int


def ensure_organisation(book: Ledger, members: Sequence[Member]) -> tuple[list[Seat], int]:
    """Create the workspaces, users and memberships that are missing (existing ones are left as
    they are). Returns each member's seat and how many things were created."""
    created = 0
    accounts: dict[int, tuple[int, int]] = {}
    seats: list[Seat] = []
    for member in members:
        if member.workspace not in accounts:
            slug = workspace_slug(member.workspace)
            try:
                workspace = book.workspace(slug)
            except NotFound:
                name = f"Synthetic workspace {member.workspace + 1}"
                workspace = book.create_workspace(slug, name)
                created += 1
            accounts[member.workspace] = (workspace.id, workspace.account_id)
        workspace_id, account_id = accounts[member.workspace]
        try:
            user = book.user(member.username)
        except NotFound:
            display = f"Synthetic user {member.username.rsplit('-', 1)[-1]}"
            user = book.create_user(member.username, display)
            created += 1
        if book.membership(workspace_id, user.id) is None:
            cap = 0 if member.paused else None
            book.add_member(workspace_id, user.id, member.role, monthly_cap=cap)
            created += 1
        seats.append(Seat(account_id, user.id, member.workspace))
    return seats, created


def write(
    book: Ledger,
    plan: Plan,
    calls: Iterator[PlannedCall],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 1000,
) -> SeedReport:
    """Apply ``calls`` through a ledger over ``book``'s engine whose clock follows them.

    A call already written by an earlier run of the same plan is replayed (its reserve answers
    from the stored outcome) and counted in ``already``; one left half done by an interrupted run
    is finished if its hold is still pending. A call whose key was used with another request (the
    price changed since) is ``skipped``.
    """
    clock = MovableClock(plan.start)
    ledger = Ledger(book.engine, clock=clock, hold_ttl=book.hold_ttl)
    seats, created = ensure_organisation(ledger, plan.members)
    report = SeedReport(
        workspaces=len({m.workspace for m in plan.members}),
        users=len(plan.members),
        created=created,
    )
    by_status = report.by_status
    granted: dict[int, int] = {}
    committed: dict[int, int] = {}
    top_ups: dict[int, int] = {}
    expiries: list[datetime] = []  # pending timeouts' holds, for the sweeper
    run = plan.run
    done = 0
    for call in calls:
        seat = seats[call.member]
        at = call.at
        if expiries and expiries[0] <= at:
            clock.at = at
            _sweep(ledger)
            expiries = [e for e in expiries if e > at]
        if call.outcome is not UsageStatus.REFUSED:
            # Top the workspace up before it could run short (every hold counted in full).
            w = seat.workspace
            need = committed.get(w, 0) + call.hold
            if need > granted.get(w, 0):
                clock.at = at - timedelta(seconds=1)
                while need > granted.get(w, 0):
                    top_ups[w] = top_ups.get(w, 0) + 1
                    amount = max(TOP_UP, call.hold)
                    outcome = ledger.grant(
                        seat.account_id,
                        amount,
                        kind="promo",
                        key=f"{run}-topup-{w + 1}-{top_ups[w]}",
                        reason=GRANT_REASON,
                    )
                    granted[w] = granted.get(w, 0) + amount
                    if not outcome.replayed:
                        report.granted += amount
            committed[w] = need
        clock.at = at
        written = _apply(ledger, clock, call, seat, report, expiries)
        report.events += 1
        if written:
            report.written += 1
            by_status[call.outcome] = by_status.get(call.outcome, 0) + 1
        done += 1
        if progress is not None and done == every:
            progress(done)
            done = 0
    if progress is not None and done:
        progress(done)
    clock.at = plan.end
    _sweep(ledger)
    return report


def _sweep(ledger: Ledger) -> None:
    limit = 1000
    while ledger.sweep(limit=limit).holds_expired >= limit:
        pass


def _apply(
    ledger: Ledger,
    clock: MovableClock,
    call: PlannedCall,
    seat: Seat,
    report: SeedReport,
    expiries: list[datetime],
) -> bool:
    """Write one call; False when an earlier run had written it (or it was skipped)."""
    try:
        outcome = ledger.reserve(
            seat.account_id,
            user_id=seat.user_id,
            feature_key=call.feature_key,
            model=call.model,
            amount=call.hold,
            key=call.key,
        )
    except CapExceeded as refusal:
        if refusal.replayed:
            report.already += 1
            return False
        usage = replace(call.usage, error_message=refusal.message)
        ledger.record_refusal(
            account_id=seat.account_id,
            user_id=seat.user_id,
            feature_key=call.feature_key,
            model=call.model,
            usage=usage,
        )
        return True
    except IdempotencyConflict:
        report.skipped += 1
        return False
    hold = outcome.hold
    if outcome.replayed:
        report.already += 1
        if call.outcome is UsageStatus.TIMEOUT:
            if ledger.usage_for_hold(hold.id) is None:
                clock.at = call.at + call.settle_after
                ledger.record_timeout(hold.id, call.usage)
            return False
        if hold.status != HoldStatus.PENDING:
            return False
        report.already -= 1  # half done: finish it below
    clock.at = call.at + call.settle_after
    try:
        if call.outcome is UsageStatus.TIMEOUT:
            ledger.record_timeout(hold.id, call.usage)
            expiries.append(hold.expires_at)
        elif call.outcome is UsageStatus.ERROR:
            assert call.reason is not None
            ledger.release(hold.id, reason=call.reason, key=call.key, usage=call.usage)
        else:
            settled = ledger.capture(hold.id, call.charge, key=call.key, usage=call.usage)
            if not settled.replayed:
                report.captured += settled.hold.captured or 0
    except HoldNotPending:
        report.skipped += 1
        return False
    return True
