"""Model-based test: hypothesis drives the real ``Ledger`` and a plain-Python model side by side.

Each run gets a fresh database (a SQLite file, or a new PostgreSQL database), one workspace with an
admin, a member and a member with a monthly cap, and a ``FakeClock`` the rules move by hand. The
clock starts an hour before a month ends, so monthly caps reset in some runs.

The model recomputes everything itself from the documented rules (``ledger.grants`` docstring,
``ledger.holds`` docstring, ``ledger.service``): per-grant remainders, balance, held, each hold's
status, the capped member's monthly spend, and the outcome (or refusal) of every call, including
replays of an earlier key (same outcome, nothing changes) and a key reused for another request
(``IdempotencyConflict``, nothing changes). After every step the ledger must agree with the model
and ``verify()`` must find nothing wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger.amounts import credits
from ledger.errors import (
    CapExceeded,
    CaptureExceedsHold,
    HoldAlreadyCaptured,
    HoldExpired,
    HoldReleased,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidInput,
    LedgerError,
)
from ledger.schema import grants as grants_table
from ledger.schema import holds as holds_table
from ledger.service import AdjustmentOutcome, GrantOutcome, HoldOutcome, Ledger
from tests.conftest import PRICES, FakeClock, drop_postgres_database, new_postgres_database, seed

START = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)  # the month ends 60 minutes in
CAP = credits(250)
DEFAULT_TTL = timedelta(minutes=15)
KINDS = ("paid", "plan", "promo", "adjustment")
# The documented default order: promo, plan, adjustment, paid. The numbers matter once a grant
# comes with an explicit priority, so the strategies below use these values and their neighbours.
DEFAULT_PRIORITY = {"promo": 10, "plan": 20, "adjustment": 30, "paid": 40}
FEATURES = (("ai_text_chat", "demo/chat"), ("ai_image_generation", "demo/images"))
REASONS = ("user cancelled", "provider error", "  timed out  ")

Refusal = tuple[type[LedgerError], dict[str, Any]]


def amounts(least: int, most: int) -> st.SearchStrategy[int]:
    """Amounts up to ``most`` credits, as micro-credits: whole credits from ``least``, or any
    number of micro-credits (fractions of a credit included) from ``least`` or one micro-credit."""
    low = credits(least) if least <= 0 else 1
    return st.integers(least, most).map(credits) | st.integers(low, credits(most))


# --- the reference model ----------------------------------------------------------------------


@dataclass
class ModelGrant:
    id: int
    seq: int  # creation order: the "age" tie-break
    remaining: int
    priority: int
    expires_at: datetime | None

    def past_expiry(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass
class ModelHold:
    id: int
    user_id: int
    amount: int
    created_at: datetime
    expires_at: datetime
    status: str = "pending"
    captured: int | None = None
    reason: str | None = None


@dataclass
class Model:
    grants: list[ModelGrant] = field(default_factory=list)
    holds: dict[int, ModelHold] = field(default_factory=dict)

    @property
    def balance(self) -> int:
        return sum(g.remaining for g in self.grants)

    @property
    def held(self) -> int:
        return sum(h.amount for h in self.holds.values() if h.status == "pending")

    @property
    def available(self) -> int:
        return self.balance - self.held

    def add_grant(
        self, grant_id: int, amount: int, priority: int, expires: datetime | None
    ) -> None:
        self.grants.append(ModelGrant(grant_id, len(self.grants), amount, priority, expires))

    def spend_order(self, now: datetime) -> list[ModelGrant]:
        """Past-expiry grants first, then priority (low first), then soonest expiry (never
        last), then oldest."""

        def key(g: ModelGrant) -> tuple[bool, int, bool, datetime, int]:
            return (
                not g.past_expiry(now),
                g.priority,
                g.expires_at is None,
                g.expires_at or datetime.max.replace(tzinfo=UTC),
                g.seq,
            )

        return sorted((g for g in self.grants if g.remaining > 0), key=key)

    def settle(self, now: datetime) -> int:
        """Expire what past-expiry grants hold beyond their share of the held total (shares
        assigned walking the spend order). Returns the credits expired."""
        if not any(g.remaining > 0 and g.past_expiry(now) for g in self.grants):
            return 0
        left = self.held
        expired = 0
        for g in self.spend_order(now):
            backing = min(g.remaining, left)
            left -= backing
            if g.past_expiry(now):
                expired += g.remaining - backing
                g.remaining = backing
        return expired

    def consume(self, amount: int, now: datetime) -> None:
        left = amount
        for g in self.spend_order(now):
            take = min(g.remaining, left)
            g.remaining -= take
            left -= take
        assert left == 0, "model: consumed more than the balance"

    def month_spend(self, user_id: int, now: datetime) -> int:
        since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        total = 0
        for h in self.holds.values():
            if h.user_id == user_id and h.created_at >= since:
                if h.status == "pending":
                    total += h.amount
                elif h.status == "captured":
                    total += h.captured or 0
        return total

    def touch(self, hold: ModelHold, now: datetime) -> Refusal | None:
        """A capture or release reaching the status check: a resolved hold refuses by its status,
        a pending one whose TTL has passed (expiry included) is expired on the spot."""
        if hold.status == "pending" and hold.expires_at <= now:
            hold.status, hold.reason = "expired", "hold expired"
        elif hold.status == "pending":
            return None
        error = {"captured": HoldAlreadyCaptured, "released": HoldReleased, "expired": HoldExpired}
        return error[hold.status], {"hold_id": hold.id, "status": hold.status}


# --- the state machine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A call whose key the ledger stored (an outcome or a stored refusal), for replays."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any  # the outcome, or the refusal it raised

    def invoke(self, book: Ledger, **changes: Any) -> Any:
        return getattr(book, self.method)(*self.args, **{**self.kwargs, **changes})


def attempt(fn: Callable[[], Any]) -> tuple[Any, LedgerError | None]:
    try:
        return fn(), None
    except LedgerError as error:
        return None, error


def assert_refusal(error: LedgerError | None, expected: Refusal | None) -> None:
    if expected is None:
        assert error is None, (
            f"ledger refused, the model did not: {error!r} {error and error.fields}"
        )
        return
    assert error is not None, f"the model expected {expected[0].__name__}, the ledger did it"
    assert (type(error), error.fields) == expected, f"{error!r} {error.fields}"


DatabaseFactory = Callable[[], tuple[str, Callable[[], None]]]


class LedgerMachine(RuleBasedStateMachine):
    new_database: DatabaseFactory  # set by each backend's test

    def __init__(self) -> None:
        super().__init__()
        self.url, self.drop = type(self).new_database()
        self.clock = FakeClock(START)
        try:
            self.book = Ledger.open(self.url, clock=self.clock, pool_size=2)
            self.book.import_prices(PRICES)
            ids = seed(self.book)
            capped = self.book.create_user("acme-capped")
            self.book.add_member(ids.workspace_id, capped.id, "member", monthly_cap=CAP)
        except BaseException:
            self.drop()  # teardown() only runs for a machine that was built
            raise
        self.account = ids.account_id
        self.users = {"admin": ids.admin_id, "member": ids.member_id, "capped": capped.id}
        self.operator = ids.operator_id  # adjustments are an operator's
        self.capped = capped.id
        self.model = Model()
        self.calls: list[Call] = []
        self.key_counts: Counter[str] = Counter()

    def teardown(self) -> None:
        self.book.close()
        self.drop()

    @property
    def now(self) -> datetime:
        return self.clock.now

    def new_key(self, scope: str) -> str:
        # Numbered per scope, so the same key string is used in every scope: keys are per scope.
        self.key_counts[scope] += 1
        return f"k{self.key_counts[scope]}"

    def remember(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> None:
        self.calls.append(Call(method, args, kwargs, result))

    # --- money in ------------------------------------------------------------------------------

    @initialize(
        paid=amounts(0, 600),
        promo=amounts(0, 300),
        promo_expires_in=st.sampled_from([5, 15, 20, 60]),
    )
    def fund(self, paid: int, promo: int, promo_expires_in: int) -> None:
        """Start most runs with credits, some of them expiring soon."""
        if paid:
            self.do_grant(paid, "paid", None, None, self.new_key("grant"))
        if promo:
            expires_at = self.now + timedelta(minutes=promo_expires_in)
            self.do_grant(promo, "promo", expires_at, None, self.new_key("grant"))

    def do_grant(
        self, amount: int, kind: str, expires_at: datetime | None, priority: int | None, key: str
    ) -> None:
        kwargs: dict[str, Any] = {
            "amount": amount,
            "kind": kind,
            "key": key,
            "expires_at": expires_at,
            "priority": priority,
        }
        outcome = self.book.grant(self.account, **kwargs)
        expected = GrantOutcome(False, outcome.grant_id, self.account, amount, kind, expires_at)
        assert outcome == expected
        assert all(g.id != outcome.grant_id for g in self.model.grants)
        priority = DEFAULT_PRIORITY[kind] if priority is None else priority
        self.model.add_grant(outcome.grant_id, amount, priority, expires_at)
        self.remember("grant", (self.account,), kwargs, outcome)

    @rule(
        kind=st.sampled_from(KINDS),
        amount=amounts(1, 500),
        expires_in=st.none() | st.sampled_from([1, 5, 15, 30]) | st.integers(1, 360),
        priority=st.none() | st.sampled_from([0, 9, 10, 20, 25, 30, 40, 50]),
    )
    def grant(self, kind: str, amount: int, expires_in: int | None, priority: int | None) -> None:
        expires_at = None if expires_in is None else self.now + timedelta(minutes=expires_in)
        self.do_grant(amount, kind, expires_at, priority, self.new_key("grant"))

    @rule(kind=st.sampled_from(KINDS), minutes_ago=st.integers(0, 30), amount=amounts(1, 200))
    def grant_already_expired(self, kind: str, minutes_ago: int, amount: int) -> None:
        """Refused as bad input: nothing is written, not even the key, which stays free."""
        key = self.new_key("grant")
        expires_at = self.now - timedelta(minutes=minutes_ago)
        with pytest.raises(InvalidInput):
            self.book.grant(self.account, amount, kind=kind, key=key, expires_at=expires_at)
        self.do_grant(amount, kind, None, None, key)

    @rule(delta=amounts(-300, 300).filter(bool), take_all=st.booleans())
    def adjust(self, delta: int, take_all: bool) -> None:
        """An admin's correction: in (an ``adjustment`` grant) or out (spend order, available
        only, after the due grant expiry)."""
        expected: Refusal | None = None
        if delta < 0:
            self.model.settle(self.now)
            if take_all and self.model.available > 0:
                delta = -self.model.available
            if -delta > self.model.available:
                expected = (
                    InsufficientCredits,
                    {
                        "account_id": self.account,
                        "available": self.model.available,
                        "needed": -delta,
                    },
                )
        kwargs: dict[str, Any] = {
            "delta": delta,
            "actor_user_id": self.operator,
            "reason": "correction",
            "key": self.new_key("adjust"),
        }
        outcome, error = attempt(lambda: self.book.adjust(self.account, **kwargs))
        assert_refusal(error, expected)
        if error is None:
            assert isinstance(outcome, AdjustmentOutcome)
            assert (outcome.replayed, outcome.account_id, outcome.delta) == (
                False,
                self.account,
                delta,
            )
            if delta > 0:
                assert outcome.grant_id is not None
                self.model.add_grant(outcome.grant_id, delta, DEFAULT_PRIORITY["adjustment"], None)
            else:
                assert outcome.grant_id is None
                self.model.consume(-delta, self.now)
        self.remember("adjust", (self.account,), kwargs, error or outcome)

    # --- two-phase spend -----------------------------------------------------------------------

    @rule(
        who=st.sampled_from(["admin", "member", "capped", "capped"]),
        amount=amounts(1, 200),
        edge=st.sampled_from([None, None, "available", "available+1", "cap", "cap+1"]),
        ttl=st.none() | st.sampled_from([1, 2, 5]) | st.integers(1, 90),
        feature=st.sampled_from(FEATURES),
    )
    def reserve(
        self, who: str, amount: int, edge: str | None, ttl: int | None, feature: tuple[str, str]
    ) -> None:
        now, user_id = self.now, self.users[who]
        self.model.settle(now)  # the ledger settles due grant expiry before deciding
        available = self.model.available
        used = self.model.month_spend(user_id, now)
        capped = user_id == self.capped
        if edge == "available":
            amount = max(available, 1)
        elif edge == "available+1":
            amount = available + 1
        elif edge == "cap" and capped:
            amount = max(CAP - used, 1)
        elif edge == "cap+1" and capped:
            amount = max(CAP - used + 1, 1)
        expected: Refusal | None = None
        if amount > available:
            expected = (
                InsufficientCredits,
                {"account_id": self.account, "available": available, "needed": amount},
            )
        elif capped and used + amount > CAP:
            expected = (
                CapExceeded,
                {
                    "account_id": self.account,
                    "user_id": user_id,
                    "cap": CAP,
                    "used": used,
                    "needed": amount,
                },
            )
        kwargs: dict[str, Any] = {
            "user_id": user_id,
            "feature_key": feature[0],
            "model": feature[1],
            "amount": amount,
            "key": self.new_key("reserve"),
            "ttl": None if ttl is None else timedelta(minutes=ttl),
        }
        outcome, error = attempt(lambda: self.book.reserve(self.account, **kwargs))
        assert_refusal(error, expected)
        if error is None:
            assert isinstance(outcome, HoldOutcome)
            hold = outcome.hold
            expires_at = now + (DEFAULT_TTL if ttl is None else timedelta(minutes=ttl))
            assert not outcome.replayed
            assert hold.id not in self.model.holds
            assert (hold.account_id, hold.user_id, hold.amount) == (self.account, user_id, amount)
            assert (hold.feature_key, hold.model) == feature
            assert (hold.status, hold.captured, hold.created_at) == ("pending", None, now)
            assert hold.expires_at == expires_at
            self.model.holds[hold.id] = ModelHold(hold.id, user_id, amount, now, expires_at)
        self.remember("reserve", (self.account,), kwargs, error or outcome)

    def draw_hold(self, data: st.DataObject) -> ModelHold:
        """A pending hold, usually; any hold (resolved ones too) otherwise."""
        pending = sorted(h for h, hold in self.model.holds.items() if hold.status == "pending")
        if not pending or data.draw(st.booleans(), label="any hold"):
            pending = sorted(self.model.holds)
        return self.model.holds[data.draw(st.sampled_from(pending), label="hold")]

    def draw_call(self, data: st.DataObject) -> Call:
        """An earlier call, picking the operation and how it ended first (so grants and refused
        reserves do not crowd out the rest)."""
        groups: dict[tuple[str, str], list[Call]] = {}
        for call in self.calls:
            groups.setdefault((call.method, type(call.result).__name__), []).append(call)
        group = data.draw(st.sampled_from(sorted(groups)), label="kind of call")
        return data.draw(st.sampled_from(groups[group]), label="call")

    def wait_for_expiry(self, hold: ModelHold) -> datetime:
        """Move the clock to the instant the hold's TTL runs out (if it is still ahead)."""
        self.clock.now = max(self.now, hold.expires_at)
        return self.now

    @precondition(lambda self: self.model.holds)
    @rule(
        data=st.data(),
        how=st.sampled_from(["zero", "partial", "full", "over"]),
        at_expiry=st.booleans(),
    )
    def capture(self, data: st.DataObject, how: str, at_expiry: bool) -> None:
        hold, now = self.draw_hold(data), self.now
        if at_expiry:
            now = self.wait_for_expiry(hold)
        if how == "zero":
            amount = 0
        elif how == "partial" and hold.amount > 1:
            amount = data.draw(st.integers(1, hold.amount - 1), label="partial")
        elif how == "over":
            amount = hold.amount + data.draw(amounts(1, 50), label="extra")
        else:
            amount = hold.amount
        self.model.settle(now)
        expected: Refusal | None = None
        # The amount is checked before the status (so a replay always gets the same answer).
        if amount > hold.amount:
            expected = (
                CaptureExceedsHold,
                {"hold_id": hold.id, "held": hold.amount, "requested": amount},
            )
        else:
            expected = self.model.touch(hold, now)
        kwargs: dict[str, Any] = {"amount": amount, "key": self.new_key("capture")}
        outcome, error = attempt(lambda: self.book.capture(hold.id, **kwargs))
        assert_refusal(error, expected)
        if error is None:
            assert isinstance(outcome, HoldOutcome)
            assert not outcome.replayed
            assert (outcome.hold.id, outcome.hold.status) == (hold.id, "captured")
            assert (outcome.hold.captured, outcome.hold.resolved_at) == (amount, now)
            hold.status, hold.captured = "captured", amount
            self.model.consume(amount, now)
        self.remember("capture", (hold.id,), kwargs, error or outcome)

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), reason=st.sampled_from(REASONS), at_expiry=st.booleans())
    def release(self, data: st.DataObject, reason: str, at_expiry: bool) -> None:
        hold, now = self.draw_hold(data), self.now
        if at_expiry:
            now = self.wait_for_expiry(hold)
        self.model.settle(now)
        expected = self.model.touch(hold, now)
        kwargs: dict[str, Any] = {"reason": reason, "key": self.new_key("release")}
        outcome, error = attempt(lambda: self.book.release(hold.id, **kwargs))
        assert_refusal(error, expected)
        if error is None:
            assert isinstance(outcome, HoldOutcome)
            assert not outcome.replayed
            assert (outcome.hold.id, outcome.hold.status) == (hold.id, "released")
            assert (outcome.hold.release_reason, outcome.hold.resolved_at) == (reason.strip(), now)
            hold.status, hold.reason = "released", reason.strip()
        self.remember("release", (hold.id,), kwargs, error or outcome)

    # --- time --------------------------------------------------------------------------------

    @rule(
        step=st.sampled_from(["next expiry", 1, 5, 15, 30, 60, "next month"]) | st.integers(1, 240)
    )
    def advance_clock(self, step: int | str) -> None:
        """Some minutes, exactly to the next hold or grant expiry (the boundary is inclusive: a
        hold or grant whose expiry equals the clock has expired), or to the next month's first
        instant (monthly caps start again)."""
        if isinstance(step, int):
            self.clock.advance(minutes=step)
        elif step == "next month":
            first = self.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            self.clock.now = (first + timedelta(days=32)).replace(day=1)
        else:
            deadlines = [h.expires_at for h in self.model.holds.values() if h.status == "pending"]
            deadlines += [g.expires_at for g in self.model.grants if g.remaining and g.expires_at]
            upcoming = [d for d in deadlines if d > self.now]
            self.clock.now = min(upcoming, default=self.now + timedelta(minutes=1))

    @rule(limit=st.sampled_from([1, 1000, 2]), when_all_due=st.booleans())
    def sweep(self, limit: int, when_all_due: bool) -> None:
        """Pending holds past their TTL expire (the first ``limit`` of them, by id), then due
        grant expiry runs on what is still held. ``when_all_due``: first move the clock to the
        instant the last pending hold's TTL runs out."""
        if when_all_due:
            pending = [h for h in self.model.holds.values() if h.status == "pending"]
            self.clock.now = max([self.now] + [h.expires_at for h in pending])
        now = self.now
        due = sorted(
            hold_id
            for hold_id, hold in self.model.holds.items()
            if hold.status == "pending" and hold.expires_at <= now
        )[:limit]
        for hold_id in due:
            self.model.holds[hold_id].status = "expired"
            self.model.holds[hold_id].reason = "hold expired"
        credits_expired = self.model.settle(now)
        report = self.book.sweep(limit)
        assert (report.holds_expired, report.grant_credits_expired) == (len(due), credits_expired)
        # Only one account exists. It may be visited with nothing left to do (its cached next
        # expiry can point at a grant already spent), so only the lower bound is exact.
        assert report.accounts_swept in (0, 1)
        if due or credits_expired:
            assert report.accounts_swept == 1

    # --- idempotency keys ----------------------------------------------------------------------

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def replay_same_request(self, data: st.DataObject) -> None:
        """The original outcome again (a stored refusal raised again); nothing changes."""
        call = self.draw_call(data)
        outcome, error = attempt(lambda: call.invoke(self.book))
        if isinstance(call.result, LedgerError):
            assert error is not None, f"replay of a refused {call.method} succeeded: {outcome!r}"
            assert type(error) is type(call.result)
            assert (error.fields, error.message) == (call.result.fields, call.result.message)
            return
        assert error is None, f"replay of {call.method} refused: {error!r}"
        if isinstance(call.result, HoldOutcome):
            # Answered with the hold the first call made, as it stands now.
            assert isinstance(outcome, HoldOutcome)
            assert outcome.replayed
            assert outcome.hold.id == call.result.hold.id
            model_hold = self.model.holds[outcome.hold.id]
            assert (outcome.hold.status, outcome.hold.captured) == (
                model_hold.status,
                model_hold.captured,
            )
        else:
            assert outcome == replace(call.result, replayed=True)

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def reuse_key_for_another_request(self, data: st.DataObject) -> None:
        """``IdempotencyConflict``, and nothing changes."""
        call = self.draw_call(data)
        kw = call.kwargs
        changes: dict[str, Any]
        if call.method == "grant":
            changes = data.draw(
                st.sampled_from(
                    [
                        {"amount": kw["amount"] + 1},
                        {"kind": "paid" if kw["kind"] != "paid" else "promo"},
                        {"priority": 5 if kw["priority"] is None else kw["priority"] + 1},
                        {"expires_at": self.now + timedelta(days=1)},
                    ]
                ),
                label="change",
            )
        elif call.method == "adjust":
            changes = {"delta": kw["delta"] * 2}
        elif call.method == "reserve":
            other_user = self.users["member" if kw["user_id"] == self.capped else "capped"]
            ttl = kw["ttl"] or DEFAULT_TTL
            changes = data.draw(
                st.sampled_from(
                    [
                        {"amount": kw["amount"] + 1},
                        {"user_id": other_user},
                        {"ttl": ttl + timedelta(minutes=1)},
                    ]
                ),
                label="change",
            )
        elif call.method == "capture":
            changes = {"amount": kw["amount"] + 1}
        else:
            changes = {"reason": kw["reason"].strip() + " (again)"}
        other_holds = sorted(set(self.model.holds) - set(call.args))
        if call.method in ("capture", "release") and other_holds and data.draw(st.booleans()):
            # The same key and payload for another hold is another request too.
            other = data.draw(st.sampled_from(other_holds), label="other hold")
            with pytest.raises(IdempotencyConflict):
                getattr(self.book, call.method)(other, **kw)
            return
        with pytest.raises(IdempotencyConflict):
            call.invoke(self.book, **changes)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def books_match_model(self) -> None:
        balance = self.book.balance(self.account)
        model = self.model
        assert (balance.balance, balance.held, balance.available) == (
            model.balance,
            model.held,
            model.available,
        )
        assert balance.available >= 0
        assert self.book.verify() == []

    @invariant()
    def grants_match_model(self) -> None:
        with self.book.engine.connect() as conn:
            rows = conn.execute(
                sa.select(grants_table.c.id, grants_table.c.remaining).where(
                    grants_table.c.account_id == self.account
                )
            ).all()
        assert dict(rows) == {g.id: g.remaining for g in self.model.grants}

    @invariant()
    def holds_match_model(self) -> None:
        with self.book.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(holds_table)).scalar_one()
        assert count == len(self.model.holds)
        for hold_id, expected in self.model.holds.items():
            hold = self.book.hold(hold_id)
            assert (hold.status, hold.captured, hold.release_reason) == (
                expected.status,
                expected.captured,
                expected.reason,
            ), f"hold {hold_id}"
            assert (hold.amount, hold.user_id, hold.created_at, hold.expires_at) == (
                expected.amount,
                expected.user_id,
                expected.created_at,
                expected.expires_at,
            ), f"hold {hold_id}"

    @invariant()
    def monthly_spend_matches_model(self) -> None:
        for user_id in self.users.values():
            assert self.book.month_spend(self.account, user_id) == self.model.month_spend(
                user_id, self.now
            )


def run_machine(new_database: DatabaseFactory, config: settings) -> None:
    machine = type("Machine", (LedgerMachine,), {"new_database": staticmethod(new_database)})
    run_state_machine_as_test(machine, settings=config)


def test_ledger_matches_model_sqlite(tmp_path: Path) -> None:
    runs: Iterator[int] = iter(range(10**9))

    def new_database() -> tuple[str, Callable[[], None]]:
        path = tmp_path / f"ledger-{next(runs)}.db"

        def drop() -> None:
            for leftover in tmp_path.glob(f"{path.name}*"):
                leftover.unlink()

        return f"sqlite:///{path}", drop

    run_machine(
        new_database,
        settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.postgres
def test_ledger_matches_model_postgres() -> None:
    def new_database() -> tuple[str, Callable[[], None]]:
        url = new_postgres_database()
        return url, lambda: drop_postgres_database(url)

    run_machine(
        new_database,
        settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
