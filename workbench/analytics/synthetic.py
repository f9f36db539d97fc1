"""Synthetic usage: realistic provider calls for trying the analytics (the plan; the writer that
applies it through the ledger is ``workbench.analytics.synthetic_writer``).

Two halves. ``plan_calls`` is pure: from a ``random.Random`` it yields ``PlannedCall``s in time
order (who, which model, how it ended, what it held and charged, its measured usage). ``write``
applies them to a ledger the way the gateway settles real calls (``workbench.gateway.settlement``):
``reserve``, then ``capture`` with the usage row (ok, cancelled), ``release`` with it (provider
errors), ``record_timeout`` (timeouts: the hold stays pending until the sweeper expires it), or,
for a reserve refused by a monthly cap, ``record_refusal``. So every planned call is exactly one
usage row, and every row has the journal lines a real call would have.

The ledger stamps rows with its clock: ``write`` runs a ``Ledger`` over the same engine with a
``MovableClock`` set to each call's time (the reserve) and then to its end (the settlement, a few
seconds later and always well inside the hold's TTL), so ``created_at`` follows the timeline.

The organisation is fixed by its size, not by the seed (``organisation``): workspaces
``synth-ws-1``..., users ``synth-user-01``..., each in one workspace, the first of each an admin;
in workspaces of five or more the last member's monthly cap is 0 (spending paused by an admin), and
the calls planned as refusals are theirs. Workspaces are topped up with promo credits just before
they would run short (keys derived from the run), so every call that is not refused is affordable.

Idempotency keys derive from the run (the seed, the organisation and the models) and the call's
number; call *n* of a seed is the same call whatever the timeline or the number of events. So
running again with the same seed replays every call it shares with the earlier run and adds
nothing (more events: only the new ones); another seed adds more. If a price changed in between,
a replayed reserve no longer matches its key and the call is skipped, not written twice.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.amounts import credits
from ledger.errors import CapExceeded
from ledger.features import OperationType
from ledger.pricing import Price, image_cost, token_cost
from ledger.statuses import UsageStatus
from ledger.usage import CallUsage

CHAT_FEATURE = "ai_text_chat"
IMAGE_FEATURE = "ai_image_generation"
MAX_EVENTS = 50_000_000
MAX_DAYS = 3650
TOP_UP = credits(25_000)
GRANT_REASON = "synthetic usage (workbench usage seed)"

# Shares of calls by how they end (the rest are ok).
ERROR_SHARE = 0.03
TIMEOUT_SHARE = 0.01
CANCEL_SHARE = 0.02  # chat only: the person pressed stop
REFUSAL_SHARE = 0.005  # by members whose spending is paused (only when there are some)
IMAGE_SHARE = 0.08

# Relative traffic by hour of day (UTC) and by weekday (Monday first).
HOURS = (
    0.05, 0.04, 0.03, 0.03, 0.04, 0.08, 0.2, 0.45, 0.8, 1.0, 1.0, 0.95,
    0.75, 0.9, 1.0, 1.0, 0.9, 0.7, 0.45, 0.3, 0.22, 0.16, 0.1, 0.07,
)  # fmt: skip
WEEKDAYS = (1.0, 1.05, 1.05, 1.0, 0.85, 0.22, 0.16)

CHAT_ERRORS = (
    ("APIConnectionError", "Connection error: the provider closed the connection"),
    ("RateLimitError", "Rate limit reached for requests; please try again later"),
    ("InternalServerError", "The server had an error while processing your request"),
    ("ServiceUnavailableError", "The model is overloaded; please try again later"),
    ("EmptyReply", "the model sent an empty reply"),
)
IMAGE_ERRORS = (
    ("BadRequestError", "Your request was rejected by the safety system"),
    ("InternalServerError", "The server had an error while processing your request"),
    ("NoImagesReturned", "the provider returned no images"),
)


# --- the organisation ----------------------------------------------------------------------------


def workspace_slug(index: int) -> str:
    return f"synth-ws-{index + 1}"


def username(index: int) -> str:
    return f"synth-user-{index + 1:02d}"


@dataclass(frozen=True)
class Member:
    username: str
    workspace: int  # index into the workspaces
    role: str
    paused: bool  # monthly cap 0: every call is refused


def organisation(workspaces: int, users: int) -> list[Member]:
    """``users`` people over ``workspaces`` workspaces of decreasing size (each has one at least);
    the first member of each is its admin, and in a workspace of five or more the last one's
    spending is paused."""
    if workspaces < 1 or users < workspaces:
        raise ValueError("need at least one workspace and at least one user per workspace")
    weights = [1 / (w + 1) for w in range(workspaces)]
    total = sum(weights)
    sizes = [1 + int((users - workspaces) * w / total) for w in weights]
    sizes[0] += users - sum(sizes)
    members: list[Member] = []
    for w, size in enumerate(sizes):
        for position in range(size):
            role = "admin" if position == 0 else "member"
            paused = size >= 5 and position == size - 1
            members.append(Member(username(len(members)), w, role, paused))
    return members


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A priced model as the plan uses it."""

    price: Price
    provider: str
    weight: float
    usd_ratio: float | None  # the provider's cost per list credit (None: free, offline)
    tokens_per_s: float = 60.0

    @property
    def is_chat(self) -> bool:
        return self.price.operation_type is OperationType.TEXT_CHAT


def models_from_prices(prices: Sequence[Price], providers: Mapping[str, str]) -> list[Model]:
    """A skewed mix over the priced models: within each kind, cheaper models are called more,
    and the offline demo models little. ``providers`` maps a price's model to its provider
    (else the part of its name before ``/``)."""
    models: list[Model] = []
    chat = sorted(
        (p for p in prices if p.input_per_mtok is not None and p.output_per_mtok is not None),
        key=lambda p: (p.input_per_mtok or 0, p.model),
    )
    images = sorted(
        (p for p in prices if p.images and p.operation_type is OperationType.IMAGE_GENERATION),
        key=lambda p: (min(p.images.values()), p.model),
    )
    for group, share in ((chat, 1 - IMAGE_SHARE), (images, IMAGE_SHARE)):
        raw = []
        for rank, price in enumerate(group):
            provider = providers.get(price.model) or price.model.split("/", 1)[0]
            demo = provider == "demo"
            raw.append((price, provider, (0.2 if demo else 1.0) / (1 + rank) ** 0.8, demo))
        total = sum(weight for _, _, weight, _ in raw) or 1.0
        for rank, (price, provider, weight, demo) in enumerate(raw):
            models.append(
                Model(
                    price,
                    provider,
                    share * weight / total,
                    None if demo else 0.8 + 0.02 * (rank % 3),
                    tokens_per_s=40.0 + 25.0 * (len(raw) - rank) / max(1, len(raw)),
                )
            )
    if not models:
        raise ValueError("no priced models to call (see workbench prices --help)")
    return models


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One call: reserved ``at``, settled ``settle_after`` later, one usage row."""

    number: int
    key: str
    at: datetime
    member: int  # index into the organisation
    model: str
    feature_key: str
    outcome: str  # a UsageStatus
    hold: int  # micro-credits reserved
    charge: int  # micro-credits captured (ok, cancelled)
    settle_after: timedelta
    usage: CallUsage
    reason: str | None = None  # a release's reason (errors)


@dataclass(frozen=True)
class Plan:
    """What shapes a run: the same plan (with the same seed) gives the same calls and keys."""

    events: int
    days: int
    seed: int
    members: Sequence[Member]
    models: Sequence[Model]
    end: datetime
    max_settle: timedelta = timedelta(minutes=3)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def last_call(self) -> datetime:
        """Calls start no later than this, so every settlement is in the past at ``end``."""
        return self.end - self.max_settle

    @property
    def run(self) -> str:
        """The run's name in keys: the seed, and a digest of the organisation (which decides
        who call *n* is) and the models called (which decide what it calls)."""
        shape = repr(
            (
                [(m.username, m.workspace, m.paused) for m in self.members],
                [m.price.model for m in self.models],
            )
        )
        return f"synth-{self.seed}-{hashlib.sha256(shape.encode()).hexdigest()[:8]}"


def hourly_counts(plan: Plan, rng: random.Random) -> Iterator[tuple[datetime, datetime, int]]:
    """Split ``plan.events`` over the hours from start to the last call: more in working hours
    on weekdays, a growing trend, and day-to-day noise. Exactly ``plan.events`` in all."""
    start, stop = plan.start, plan.last_call
    hour = start.replace(minute=0, second=0, microsecond=0)
    slots: list[tuple[datetime, datetime, float]] = []
    span = (stop - start).total_seconds()
    noise: dict[datetime, float] = {}
    while hour < stop:
        low, high = max(hour, start), min(hour + timedelta(hours=1), stop)
        day = hour.replace(hour=0)
        if day not in noise:
            noise[day] = rng.lognormvariate(0.0, 0.15)
        covered = (high - low).total_seconds() / 3600
        trend = 0.7 + 0.6 * (low - start).total_seconds() / span
        weight = HOURS[hour.hour] * WEEKDAYS[hour.weekday()] * trend * noise[day] * covered
        slots.append((low, high, weight))
        hour += timedelta(hours=1)
    total = sum(weight for _, _, weight in slots)
    cumulative = 0.0
    placed = 0
    for low, high, weight in slots:
        cumulative += weight
        upto = round(plan.events * cumulative / total)
        if upto > placed:
            yield low, high, upto - placed
            placed = upto


def plan_calls(plan: Plan, rng: random.Random) -> Iterator[PlannedCall]:
    """The calls of ``plan``, in time order.

    Two streams are drawn from ``rng``: one for what each call is (who, which model, how it
    ended), one for when. So call number *n* is the same call whatever the end of the timeline,
    the number of days or of events: a later run with the same seed replays the calls it shares.
    """
    what = random.Random(rng.getrandbits(64))
    when = random.Random(rng.getrandbits(64))
    members = plan.members
    callers = [i for i, m in enumerate(members) if not m.paused]
    paused = [i for i, m in enumerate(members) if m.paused]
    # Activity is skewed too: a few people make most of the calls.
    ranks = list(range(len(callers)))
    what.shuffle(ranks)
    caller_cum = _cumulative([1 / (1 + rank) ** 0.9 for rank in ranks])
    model_cum = _cumulative([m.weight for m in plan.models])
    refusal_share = REFUSAL_SHARE if paused else 0.0
    max_ms = int(plan.max_settle.total_seconds() * 1000)
    number = 0
    run = plan.run
    random_ = what.random
    for low, high, count in hourly_counts(plan, when):
        width = (high - low).total_seconds()
        offsets = sorted(when.random() * width for _ in range(count))
        for offset in offsets:
            number += 1
            at = low + timedelta(seconds=offset)
            model = plan.models[_pick(model_cum, random_())]
            roll = random_()
            if roll < refusal_share:
                member = paused[int(random_() * len(paused))]
                outcome = UsageStatus.REFUSED
            else:
                member = callers[_pick(caller_cum, random_())]
                roll = (roll - refusal_share) / (1 - refusal_share)
                if roll < ERROR_SHARE:
                    outcome = UsageStatus.ERROR
                elif roll < ERROR_SHARE + TIMEOUT_SHARE:
                    outcome = UsageStatus.TIMEOUT
                elif model.is_chat and roll < ERROR_SHARE + TIMEOUT_SHARE + CANCEL_SHARE:
                    outcome = UsageStatus.CANCELLED
                else:
                    outcome = UsageStatus.OK
            key = f"{run}-{number}"
            if model.is_chat:
                yield _chat_call(what, number, key, at, member, model, outcome, max_ms)
            else:
                yield _image_call(what, number, key, at, member, model, outcome, max_ms)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    out: list[float] = []
    running = 0.0
    for weight in weights:
        running += weight / total
        out.append(running)
    out[-1] = 1.0
    return out


def _pick(cumulative: list[float], roll: float) -> int:
    return min(bisect.bisect_right(cumulative, roll), len(cumulative) - 1)


def _chat_call(
    rng: random.Random,
    number: int,
    key: str,
    at: datetime,
    member: int,
    model: Model,
    outcome: str,
    max_ms: int,
) -> PlannedCall:
    price = model.price
    prompt = min(100_000, max(12, int(rng.lognormvariate(6.8, 1.0))))
    roll = rng.random()
    limit = 1024 if roll < 0.8 else 4096 if roll < 0.95 else 256
    reply = min(limit, max(1, int(rng.lognormvariate(5.7, 0.8))))
    cached = int(prompt * rng.uniform(0.3, 0.9)) if prompt > 1024 and rng.random() < 0.3 else 0
    ttft = min(20_000, max(80, int(rng.lognormvariate(6.4, 0.5))))
    hold = max(1, token_cost(price, prompt, limit))
    charge = 0
    reason = None
    error_type = error_message = None
    usd = None
    if outcome is UsageStatus.CANCELLED:
        reply = max(1, int(reply * rng.uniform(0.05, 0.6)))
    if outcome in (UsageStatus.OK, UsageStatus.CANCELLED):
        charge = min(token_cost(price, prompt, reply), hold)
        usd = None if model.usd_ratio is None else round(charge * model.usd_ratio)
        latency = ttft + int(reply * 1000 / model.tokens_per_s)
        usage_in, usage_out = prompt, reply
    elif outcome is UsageStatus.ERROR:
        error_type, error_message = CHAT_ERRORS[int(rng.random() * len(CHAT_ERRORS))]
        reason = f"provider error ({error_type}): nothing charged"
        latency = int(rng.uniform(150, 4000))
        usage_in, usage_out, cached, ttft = 0, 0, 0, 0
    elif outcome is UsageStatus.TIMEOUT:
        error_type, error_message = "Timeout", "Request timed out: the model did not answer in time"
        latency = 120_000 + int(rng.uniform(0, 3000))
        usage_in, usage_out, cached, ttft = 0, 0, 0, 0
    else:  # refused by a monthly cap: the message is the ledger's, filled in when written
        latency, usage_in, usage_out, cached, ttft = 0, 0, 0, 0, 0
        error_type = CapExceeded.__name__
    latency = min(latency, max_ms)
    usage = CallUsage(
        provider=model.provider,
        status=outcome,
        input_tokens=usage_in,
        output_tokens=usage_out,
        cached_tokens=cached,
        usd_cost_nanos=usd,
        latency_ms=latency if outcome is not UsageStatus.REFUSED else None,
        ttft_ms=min(ttft, latency) if ttft else None,
        error_type=error_type,
        error_message=error_message,
        idempotency_key=key,
    )
    return PlannedCall(
        number,
        key,
        at,
        member,
        price.model,
        CHAT_FEATURE,
        outcome,
        hold,
        charge,
        timedelta(milliseconds=latency),
        usage,
        reason,
    )


def _image_call(
    rng: random.Random,
    number: int,
    key: str,
    at: datetime,
    member: int,
    model: Model,
    outcome: str,
    max_ms: int,
) -> PlannedCall:
    price = model.price
    options = sorted(price.images)
    # Mostly the first (smallest, standard) option, sometimes any other.
    size, quality = options[0] if rng.random() < 0.6 else options[int(rng.random() * len(options))]
    roll = rng.random()
    n = 1 if roll < 0.7 else 2 if roll < 0.9 else 4
    hold = image_cost(price, size, quality, n)
    latency = min(max_ms, int(rng.lognormvariate(9.0, 0.4) * math.sqrt(n)))
    returned, charge, usd, reason = 0, 0, None, None
    error_type = error_message = None
    if outcome is UsageStatus.OK:
        returned = n if n == 1 or rng.random() < 0.97 else n - 1
        charge = min(image_cost(price, size, quality, returned), hold)
        usd = None if model.usd_ratio is None else round(charge * model.usd_ratio)
    elif outcome is UsageStatus.ERROR:
        error_type, error_message = IMAGE_ERRORS[int(rng.random() * len(IMAGE_ERRORS))]
        reason = f"provider error ({error_type}): nothing charged"
        latency = min(latency, int(rng.uniform(300, 6000)))
    elif outcome is UsageStatus.TIMEOUT:
        error_type, error_message = "Timeout", "Request timed out: the model did not answer in time"
        latency = min(max_ms, 120_000 + int(rng.uniform(0, 3000)))
    else:
        error_type = CapExceeded.__name__
    usage = CallUsage(
        provider=model.provider,
        status=outcome,
        images=returned,
        image_size=size,
        image_quality=quality,
        usd_cost_nanos=usd,
        latency_ms=latency if outcome is not UsageStatus.REFUSED else None,
        ttft_ms=latency if outcome is UsageStatus.OK else None,
        error_type=error_type,
        error_message=error_message,
        idempotency_key=key,
    )
    return PlannedCall(
        number,
        key,
        at,
        member,
        price.model,
        IMAGE_FEATURE,
        outcome,
        hold,
        charge,
        timedelta(milliseconds=latency if outcome is not UsageStatus.REFUSED else 0),
        usage,
        reason,
    )


def default_end() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
