"""Shared code for the concurrency and crash tests: workers, a runner and reconciliation.

Not a test module. Workers run as threads of the test process (sharing one ``Ledger``, so each
holds its own pooled connection) or in processes started with the ``spawn`` context (each opens its
own ``Ledger``), so everything a process receives or returns is plain, picklable data.

Each call a worker makes is recorded as a :class:`Call` with its outcome. Refusals a worker expects
for that kind of call (``InsufficientCredits`` on a reserve, a ``HoldNotPending`` subclass on a
capture or release of a hold another worker may have ended, ``IdempotencyConflict`` on a key
deliberately reused for a different request) are outcomes; anything else, "database is locked"
included, is collected as *unexpected* with its traceback, and the tests require none.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ledger import db
from ledger.amounts import credits
from ledger.errors import (
    HoldAlreadyCaptured,
    HoldReleased,
    IdempotencyConflict,
    InsufficientCredits,
    LedgerError,
)
from ledger.schema import grants as grants_table
from ledger.schema import holds as holds_table
from ledger.schema import idempotency_keys
from ledger.service import GrantOutcome, HoldOutcome, Ledger

FEATURE = "ai_text_chat"
MODEL = "demo/chat"
# Hang guards only (a stuck barrier or a dead process must fail the test, not hang it); nothing
# asserts on time.
HANG_GUARD_S = 240.0


@dataclass(frozen=True)
class Target:
    """The hot account every worker hammers."""

    url: str
    account_id: int
    user_id: int


@dataclass(frozen=True)
class Call:
    """One call and what came of it.

    ``outcome`` is ``("ok", id, replayed, status, captured)`` (id of the hold or grant), or
    ``("error", type name)`` for an expected refusal, or ``("unexpected", type name)``.
    """

    worker: int
    op: str  # reserve, capture, release, grant
    kind: str  # fresh, shared, conflict, replay
    key: str
    params: tuple[tuple[str, Any], ...]
    outcome: tuple[Any, ...]

    @property
    def ok(self) -> bool:
        return bool(self.outcome[0] == "ok")

    @property
    def replayed(self) -> bool:
        return self.ok and bool(self.outcome[2])

    def param(self, name: str) -> Any:
        return dict(self.params)[name]


@dataclass
class Report:
    worker: int
    where: str  # "thread" or "process"
    calls: list[Call] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    key_races: int = 0  # see IntegrityErrors


@dataclass
class Watch:
    """What a reader thread saw while the workers ran."""

    samples: int = 0
    min_available: int | None = None
    min_held: int | None = None
    unexpected: list[str] = field(default_factory=list)
    key_races: int = 0  # of the threads' shared engine; see IntegrityErrors


class IntegrityErrors:
    """The IntegrityErrors an engine's statements raise, including those the ledger retries.

    ``Ledger._idempotent`` retries a call once on *any* IntegrityError, so callers never see one
    that a retry cured. The only one a correct ledger can meet is a concurrent first use of one
    idempotency key failing on the key's primary key (then answered as a replay): those are
    counted as ``key_races``. Any other (a CHECK such as ``balance - held >= 0``, a foreign key)
    means a race reached the database's last line of defence, and is collected in ``others``.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.key_races = 0
        self.others: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> IntegrityErrors:
        sa.event.listen(self.engine, "handle_error", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "handle_error", self._seen)

    def _seen(self, context: sa.engine.ExceptionContext) -> None:
        if not isinstance(context.sqlalchemy_exception, sa.exc.IntegrityError):
            return
        text = str(context.original_exception)
        with self._lock:
            if "idempotency_keys" in text and ("UNIQUE" in text or "duplicate key" in text):
                self.key_races += 1
            else:
                self.others.append(f"IntegrityError (retried by the ledger): {text}")


def describe(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error)).rstrip()
    return f"{type(error).__module__}.{type(error).__name__}: {error}\n{text}"


# --- the calls --------------------------------------------------------------------------------

# Which refusals are outcomes, by the kind of call; anything else is unexpected.
_HOLD_ENDED = (HoldAlreadyCaptured, HoldReleased)
EXPECTED: dict[tuple[str, str], tuple[type[LedgerError], ...]] = {
    ("reserve", "fresh"): (InsufficientCredits,),
    ("reserve", "shared"): (InsufficientCredits,),
    ("reserve", "conflict"): (InsufficientCredits, IdempotencyConflict),
    ("capture", "fresh"): _HOLD_ENDED,
    ("release", "fresh"): _HOLD_ENDED,
    ("grant", "fresh"): (),
}


def invoke(book: Ledger, target: Target, op: str, key: str, params: dict[str, Any]) -> Any:
    if op == "reserve":
        return book.reserve(
            target.account_id,
            user_id=target.user_id,
            feature_key=FEATURE,
            model=MODEL,
            amount=params["amount"],
            key=key,
        )
    if op == "capture":
        return book.capture(params["hold_id"], params["amount"], key=key)
    if op == "release":
        return book.release(params["hold_id"], reason=params["reason"], key=key)
    if op == "grant":
        return book.grant(target.account_id, params["amount"], kind="paid", key=key)
    raise ValueError(op)


def _ok(result: Any) -> tuple[Any, ...]:
    if isinstance(result, HoldOutcome):
        hold = result.hold
        return ("ok", hold.id, result.replayed, hold.status, hold.captured)
    assert isinstance(result, GrantOutcome)
    return ("ok", result.grant_id, result.replayed, None, result.amount)


def make_call(
    book: Ledger,
    target: Target,
    report: Report,
    op: str,
    kind: str,
    key: str,
    params: dict[str, Any],
    expected: tuple[type[LedgerError], ...] | None = None,
) -> Call:
    """Make one call, record it in ``report``; refusals outside ``expected`` are unexpected."""
    allowed = EXPECTED[(op, kind)] if expected is None else expected
    try:
        outcome = _ok(invoke(book, target, op, key, params))
    except allowed as error:
        outcome = ("error", type(error).__name__)
    except Exception as error:
        outcome = ("unexpected", type(error).__name__)
        report.unexpected.append(f"worker {report.worker} {op} {key} {params}: {describe(error)}")
    call = Call(report.worker, op, kind, key, tuple(sorted(params.items())), outcome)
    report.calls.append(call)
    return call


# --- round (a): reserve until refused ---------------------------------------------------------


@dataclass(frozen=True)
class ReserveOnly:
    amount: int
    max_calls: int  # a guard: a correct ledger refuses long before


def reserve_until_refused(book: Ledger, target: Target, report: Report, job: ReserveOnly) -> None:
    """Reserve ``job.amount`` with fresh keys until the first refusal (or any error)."""
    for i in range(job.max_calls):
        call = make_call(
            book,
            target,
            report,
            "reserve",
            "fresh",
            f"ro-{report.worker}-{i}",
            {"amount": job.amount},
        )
        if not call.ok:
            return


def check_reserve_only(
    book: Ledger, target: Target, reports: Sequence[Report], balance: int, amount: int
) -> list[str]:
    """Every problem with a finished reserve-only round (empty when all is well)."""
    problems: list[str] = []
    calls = [c for r in reports for c in r.calls]
    ok = [c for c in calls if c.ok]
    refusals = Counter(c.outcome[1] for c in calls if not c.ok)
    expected_ok = balance // amount
    if len(ok) != expected_ok:
        problems.append(f"{len(ok)} reserves succeeded; floor({balance}/{amount}) = {expected_ok}")
    if any(c.replayed for c in ok):
        problems.append("a fresh key was answered as a replay")
    if len({c.outcome[1] for c in ok}) != len(ok):
        problems.append("two successful reserves returned the same hold")
    if refusals != Counter({"InsufficientCredits": len(reports)}):
        problems.append(f"refusals {dict(refusals)}; expected one InsufficientCredits per worker")
    bal = book.balance(target.account_id)
    if (bal.balance, bal.held) != (balance, expected_ok * amount):
        problems.append(f"account {bal}: expected balance {balance}, held {expected_ok * amount}")
    with db.read_only_connection(book.engine) as conn:
        n_holds = conn.execute(sa.select(sa.func.count()).select_from(holds_table)).scalar_one()
    if n_holds != expected_ok:
        problems.append(f"{n_holds} holds in the database, expected {expected_ok}")
    return problems


# --- same-key bursts: every worker sends one request under one key at the same moment ----------


@dataclass(frozen=True)
class Bursts:
    rounds: int
    barrier: Any  # shared by all workers; a multiprocessing one when processes take part


def same_key_bursts(book: Ledger, target: Target, report: Report, job: Bursts) -> None:
    for r in range(job.rounds):
        job.barrier.wait(HANG_GUARD_S)
        make_call(book, target, report, "reserve", "shared", f"burst-{r}", {"amount": credits(3)})


def check_bursts(book: Ledger, target: Target, reports: Sequence[Report], rounds: int) -> list[str]:
    """Each burst made one hold; every caller got that hold back, all but one as a replay."""
    problems: list[str] = []
    by_key: dict[str, list[Call]] = defaultdict(list)
    for c in (c for r in reports for c in r.calls):
        by_key[c.key].append(c)
    for key, group in sorted(by_key.items()):
        holds = {c.outcome[1] for c in group if c.ok}
        first = sum(c.ok and not c.replayed for c in group)
        if len(group) != len(reports) or len(holds) != 1 or first != 1:
            problems.append(f"{key}: {len(group)} calls, holds {holds}, {first} not replayed")
    with db.read_only_connection(book.engine) as conn:
        n_holds = conn.execute(
            sa.select(sa.func.count()).where(holds_table.c.account_id == target.account_id)
        ).scalar_one()
    if len(by_key) != rounds or n_holds != rounds:
        problems.append(f"{len(by_key)} keys and {n_holds} holds for {rounds} bursts")
    return problems


# --- round (b): mixed operations --------------------------------------------------------------

SHARED_KEYS = 6
CONFLICT_KEYS = 4


@dataclass(frozen=True)
class Mixed:
    steps: tuple[tuple[str, float, float], ...]  # (step kind, draw, draw), drawn in advance


def plan_mixed(worker: int, steps: int, seed: int) -> Mixed:
    """A worker's steps, drawn from its own seed before it starts (independent of timing)."""
    rng = random.Random(seed * 1000 + worker)
    weights = {
        "reserve": 34,
        "capture": 18,
        "release": 12,
        "replay": 16,
        "grant": 6,
        "shared": 7,
        "conflict": 7,
    }
    kinds = rng.choices(list(weights), weights=list(weights.values()), k=steps - 1)
    # Every worker starts on the same shared key, all at once: concurrent first uses of one key.
    first = ("shared", 0.0, 0.0)
    return Mixed((first, *((k, rng.random(), rng.random()) for k in kinds)))


def _pending_holds(book: Ledger, account_id: int) -> list[tuple[int, int]]:
    """A few of the newest pending holds (any worker's), so workers race on the same holds."""
    query = (
        sa.select(holds_table.c.id, holds_table.c.amount)
        .where(holds_table.c.account_id == account_id, holds_table.c.status == "pending")
        .order_by(holds_table.c.id.desc())
        .limit(6)
    )
    with db.read_only_connection(book.engine) as conn:
        return [(row.id, row.amount) for row in conn.execute(query)]


def _check_replay(report: Report, original: Call, again: Call) -> None:
    first, second = original.outcome, again.outcome
    if first[0] == "ok":
        good = second[0] == "ok" and second[1] == first[1] and second[2] is True
        if good and original.op == "capture":
            good = second[3] == "captured" and second[4] == original.param("amount")
        if good and original.op == "release":
            good = second[3] == "released"
    else:
        good = second == first
    if not good:
        report.unexpected.append(
            f"worker {report.worker}: replay of {original.op} {original.key} answered {second}, "
            f"first call answered {first}"
        )


def mixed_worker(book: Ledger, target: Target, report: Report, job: Mixed) -> None:
    w = report.worker
    history: list[Call] = []
    for i, (step, a, b) in enumerate(job.steps):
        key = f"mx-{w}-{i}"
        if step == "reserve":
            call = make_call(
                book, target, report, "reserve", "fresh", key, {"amount": credits(1 + int(a * 25))}
            )
        elif step in {"capture", "release"}:
            pending = _pending_holds(book, target.account_id)
            if not pending:
                continue
            hold_id, held = pending[int(a * len(pending))]
            params: dict[str, Any] = (
                {"hold_id": hold_id, "amount": int(b * (held + 1))}  # partial: 0..held
                if step == "capture"
                else {"hold_id": hold_id, "reason": f"worker {w} gives it back"}
            )
            call = make_call(book, target, report, step, "fresh", key, params)
        elif step == "grant":
            call = make_call(
                book, target, report, "grant", "fresh", key, {"amount": credits(10 + int(a * 30))}
            )
        elif step == "shared":
            # Every worker sends this exact request under this key: one hold, the rest replays.
            k = int(a * SHARED_KEYS)
            call = make_call(
                book, target, report, "reserve", "shared", f"shared-{k}", {"amount": credits(3)}
            )
        elif step == "conflict":
            # Same key, a different amount per worker: one request wins, the others conflict.
            k = int(a * CONFLICT_KEYS)
            params = {"amount": credits(1 + w)}
            call = make_call(book, target, report, "reserve", "conflict", f"conflict-{k}", params)
        else:  # replay one of this worker's earlier calls, same key and request
            done = [c for c in history if c.outcome[0] != "unexpected"]
            if not done:
                continue
            original = done[int(a * len(done))]
            allowed = tuple(
                t
                for t in (InsufficientCredits, HoldAlreadyCaptured, HoldReleased)
                if original.outcome == ("error", t.__name__)
            )
            call = make_call(
                book,
                target,
                report,
                original.op,
                "replay",
                original.key,
                dict(original.params),
                expected=allowed,
            )
            _check_replay(report, original, call)
            continue
        if call.kind != "conflict" or call.outcome[:2] != ("error", "IdempotencyConflict"):
            history.append(call)


def check_mixed(book: Ledger, target: Target, reports: Sequence[Report], initial: int) -> list[str]:
    """Reconcile every recorded outcome against the database, exactly (empty when all is well)."""
    problems: list[str] = []
    calls = [c for r in reports for c in r.calls]
    first = [c for c in calls if c.ok and not c.replayed]

    def firsts(op: str) -> list[Call]:
        return [c for c in first if c.op == op]

    with db.read_only_connection(book.engine) as conn:
        rows = conn.execute(
            sa.select(holds_table).where(holds_table.c.account_id == target.account_id)
        ).all()
        granted = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(grants_table.c.amount), 0)).where(
                grants_table.c.account_id == target.account_id
            )
        ).scalar_one()
        stored = {
            (r.scope, r.key): r.request_hash
            for r in conn.execute(
                sa.select(
                    idempotency_keys.c.scope,
                    idempotency_keys.c.key,
                    idempotency_keys.c.request_hash,
                )
            )
        }
    holds = {r.id: r for r in rows}

    # Each first (non-replayed) success did exactly what the database shows, and nothing else did.
    made = [c.outcome[1] for c in firsts("reserve")]
    if sorted(made) != sorted(holds):
        problems.append(f"{len(made)} reserves created holds, the database has {len(holds)}")
    for op, status in (("capture", "captured"), ("release", "released")):
        ended = Counter(c.outcome[1] for c in firsts(op))
        if any(n > 1 for n in ended.values()):
            problems.append(f"a hold was {status} twice: {[h for h, n in ended.items() if n > 1]}")
        in_db = {h for h, r in holds.items() if r.status == status}
        if set(ended) != in_db:
            problems.append(f"{status}: calls say {sorted(ended)}, database says {sorted(in_db)}")
    for c in firsts("capture"):
        row = holds.get(c.outcome[1])
        if row is None or row.captured != c.param("amount"):
            problems.append(f"capture {c.key} of {c.param('amount')}: database has {row}")
    other = {r.status for r in holds.values()} - {"pending", "captured", "released"}
    if other:
        problems.append(f"unexpected hold statuses {other}")

    # Money: the balance is what came in less what was captured; held is what is still pending.
    grants_in = initial + sum(c.param("amount") for c in firsts("grant"))
    if granted != grants_in:
        problems.append(f"grants in the database sum to {granted}, calls granted {grants_in}")
    captured = sum(r.captured for r in holds.values() if r.status == "captured")
    pending = sum(r.amount for r in holds.values() if r.status == "pending")
    bal = book.balance(target.account_id)
    if (bal.balance, bal.held) != (grants_in - captured, pending):
        problems.append(
            f"account {bal}: expected balance {grants_in - captured} and held {pending}"
        )
    if bal.available < 0:
        problems.append(f"available is {bal.available}")

    # Same key, same request: one outcome, at most one call that did the work.
    by_key: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        if c.key.startswith(("shared-", "conflict-")):
            by_key[c.key].append(c)
    for key, group in sorted(by_key.items()):
        winners = [c for c in group if c.outcome[:2] != ("error", "IdempotencyConflict")]
        if len({c.params for c in winners}) > 1:
            problems.append(f"{key}: different requests all answered: {winners}")
        answers = {c.outcome[:2] if not c.ok else ("ok", c.outcome[1]) for c in winners}
        if len(answers) > 1:
            problems.append(f"{key}: one request, several answers {answers}")
        if sum(1 for c in winners if c.ok and not c.replayed) > 1:
            problems.append(f"{key}: the work was done more than once")
        if winners and ("reserve", key) not in stored:
            problems.append(f"{key}: answered but not stored")
        if key.startswith("conflict"):
            losers = [c for c in group if c not in winners]
            if winners and any(c.params == winners[0].params for c in losers):
                problems.append(f"{key}: the same request got IdempotencyConflict")
    return problems


def mixed_coverage(reports: Sequence[Report]) -> Counter[tuple[str, str, str]]:
    """How many calls of each (op, kind, outcome) the round made: to show a round did its job."""
    return Counter(
        (c.op, c.kind, c.outcome[1] if c.outcome[0] != "ok" else "ok")
        for r in reports
        for c in r.calls
    )


def check_coverage(jobs: Sequence[Mixed], reports: Sequence[Report]) -> list[str]:
    """What the plans guarantee a mixed round did, whatever the interleaving.

    The first reserve to commit finds the whole starting balance, so some reserve succeeds (the
    starting balance covers the largest amount asked for); grants never refuse; each conflict key
    sent by n workers with n different amounts conflicts at least n - 1 times; a replay step is
    made whenever a reserve, grant or shared step came before it.
    """
    problems: list[str] = []
    calls = [c for r in reports for c in r.calls]
    if not any(c.op == "reserve" and c.ok and not c.replayed for c in calls):
        problems.append("no reserve succeeded")
    planned_grants = sum(step[0] == "grant" for j in jobs for step in j.steps)
    made_grants = sum(c.op == "grant" and c.kind == "fresh" and c.ok for c in calls)
    if made_grants != planned_grants:
        problems.append(f"{made_grants} grants made of {planned_grants} planned")
    senders: dict[int, set[int]] = defaultdict(set)
    replays = 0
    for w, job in enumerate(jobs):
        seen_recorded = False
        for step, a, _b in job.steps:
            if step == "conflict":
                senders[int(a * CONFLICT_KEYS)].add(w)
            seen_recorded = seen_recorded or step in {"reserve", "grant", "shared"}
            replays += step == "replay" and seen_recorded
    conflicts = sum(c.outcome[:2] == ("error", "IdempotencyConflict") for c in calls)
    if conflicts < sum(len(ws) - 1 for ws in senders.values()) or conflicts == 0:
        problems.append(f"{conflicts} conflicts; the plans send {dict(senders)}")
    if sum(c.kind == "replay" for c in calls) < replays:
        problems.append(f"fewer replays than the {replays} the plans guarantee")
    return problems


# --- running workers in threads and spawned processes -----------------------------------------

Worker = Callable[[Ledger, Target, Report, Any], None]


def _work(
    book: Ledger, target: Target, report: Report, worker: Worker, job: Any, barrier: Any
) -> None:
    try:
        barrier.wait(HANG_GUARD_S)
        worker(book, target, report, job)
    except Exception as error:
        report.unexpected.append(f"worker {report.worker} stopped: {describe(error)}")


def _process_main(
    target: Target, number: int, worker: Worker, job: Any, barrier: Any, results: Any
) -> None:
    report = Report(number, "process")
    try:
        book = Ledger.open(target.url)
    except Exception as error:
        report.unexpected.append(f"process {number} could not open the ledger: {describe(error)}")
        barrier.abort()
    else:
        with IntegrityErrors(book.engine) as seen:
            _work(book, target, report, worker, job, barrier)
        report.key_races = seen.key_races
        report.unexpected += seen.others
        book.close()
    results.put(report)


def watch_balance(book: Ledger, account_id: int, stop: threading.Event, watch: Watch) -> None:
    """Read the balance over and over while the workers run (readers never block writers)."""
    while not stop.is_set():
        try:
            bal = book.balance(account_id)
        except Exception as error:
            watch.unexpected.append(f"balance reader: {describe(error)}")
            return
        watch.samples += 1
        for name, value in (("min_available", bal.available), ("min_held", bal.held)):
            seen = getattr(watch, name)
            setattr(watch, name, value if seen is None else min(seen, value))
        time.sleep(0.001)  # pacing, so the reader does not hog the GIL from the workers


def run_round(
    book: Ledger,
    target: Target,
    worker: Worker,
    thread_jobs: Sequence[Any],
    process_jobs: Sequence[Any] = (),
) -> tuple[list[Report], Watch]:
    """Run one job per thread (sharing ``book``) and per spawned process, all released together.

    Returns every worker's report and what a concurrent balance reader saw (with the threads'
    IntegrityErrors). A process that dies without reporting is itself reported as unexpected.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(thread_jobs) + len(process_jobs))
    results = ctx.Queue()
    processes = []
    for n, job in enumerate(process_jobs, start=len(thread_jobs)):
        p = ctx.Process(target=_process_main, args=(target, n, worker, job, barrier, results))
        p.start()
        processes.append(p)
    reports = [Report(n, "thread") for n in range(len(thread_jobs))]
    threads = [
        threading.Thread(target=_work, args=(book, target, reports[n], worker, job, barrier))
        for n, job in enumerate(thread_jobs)
    ]
    stop, watch = threading.Event(), Watch()
    watcher = threading.Thread(target=watch_balance, args=(book, target.account_id, stop, watch))
    watcher.start()
    with IntegrityErrors(book.engine) as seen:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    watch.key_races = seen.key_races
    watch.unexpected += seen.others
    for _ in processes:
        try:
            reports.append(results.get(timeout=HANG_GUARD_S))
        except queue.Empty:
            reports.append(Report(-1, "process", unexpected=["a process never reported"]))
    for p in processes:
        p.join(HANG_GUARD_S)
        if p.exitcode != 0:
            reports.append(Report(-1, "process", unexpected=[f"exit code {p.exitcode}"]))
    stop.set()
    watcher.join()
    return reports, watch


def unexpected(reports: Sequence[Report], watch: Watch | None = None) -> list[str]:
    found = [u for r in reports for u in r.unexpected]
    return found + (watch.unexpected if watch else [])


def key_races(reports: Sequence[Report], watch: Watch) -> int:
    return sum(r.key_races for r in reports) + watch.key_races


def locked(errors: Sequence[str]) -> list[str]:
    return [e for e in errors if "database is locked" in e]


# --- the crash-loop writer --------------------------------------------------------------------


def crash_writer(url: str, account_id: int, user_id: int, tag: str, seed: int) -> None:
    """Loop reserve/capture/release/grant with unique keys until killed.

    Prints ``done SCOPE KEY`` once each call has returned (so its key is committed), and
    ``ready`` after the first. Leaves up to four holds pending at any time, and some grants
    expire an hour after they are made, so a kill leaves both for the sweeper.
    """
    book = Ledger.open(url, migrate=False)
    target = Target(url, account_id, user_id)
    rng = random.Random(seed)
    pending: list[int] = []
    i = 0
    while True:
        i += 1
        key = f"{tag}-{i}"
        r = rng.random()
        try:
            if r < 0.1:
                scope = "grant"
                expires = datetime.now(UTC) + timedelta(hours=1) if r < 0.05 else None
                book.grant(
                    account_id,
                    credits(50),
                    kind="promo" if expires else "paid",
                    key=key,
                    expires_at=expires,
                )
            elif len(pending) < 4 and (r < 0.55 or not pending):
                scope = "reserve"
                outcome = invoke(
                    book, target, "reserve", key, {"amount": credits(rng.randint(1, 30))}
                )
                pending.append(outcome.hold.id)
            elif r < 0.8:
                scope = "capture"
                hold_id = pending.pop(0)
                held = book.hold(hold_id).amount
                book.capture(hold_id, rng.randint(0, held), key=key)
            else:
                scope = "release"
                book.release(pending.pop(0), reason="crash loop", key=key)
        except InsufficientCredits:
            pass  # stored with the key, like a success
        print(f"done {scope} {key}", flush=True)
        if i == 1:
            print("ready", flush=True)
