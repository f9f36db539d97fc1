#!/usr/bin/env python3
"""Benchmark the provider gateway's overhead: a streamed chat turn through the gateway against the
same litellm call made directly, both served by the same loopback fake provider, on SQLite.

    .venv/bin/python -m scripts.bench_gateway
    .venv/bin/python -m scripts.bench_gateway --calls 1000 --json-only
    .venv/bin/python -m scripts.bench_gateway --server-process --chunk-delay-ms 2

What is measured, in one run:

* direct: ``litellm.completion`` with exactly the arguments the gateway's ``LitellmProvider`` sends
  (model, messages, ``max_tokens`` of the gateway's default, ``stream=True`` with usage, and the
  provider's own connection helper for key, base URL, timeout and retries, plus a tagging header),
  the whole stream consumed the way the provider does (text deltas joined, the usage chunk read);
* gated: ``Gateway.chat`` (check, resolve, price, token estimate, reserve a hold) and then the
  turn iterated to its end (the same litellm call and stream, the provider's cost lookup, then
  capture + the usage row in one transaction), a unique idempotency key per call, no rate limits;
* interleaved pairs: one direct and one gated call per pair, alternating which goes first, so
  machine drift hits both alike. ``overhead`` is gated - direct per pair: its p50 and p99, and the
  difference of the two sides' p50s beside them. ``overhead_p50_ms`` is the figure with a target;
* gateway alone: after each pair, one more turn through a second gateway on the same ledger whose
  provider replays the same reply with no HTTP and no litellm call (it does run the provider's cost
  lookup): the gateway's own work, without the litellm machinery it has to share the process with;
* a breakdown measured from outside the gateway: the time in ``Gateway.chat`` before the stream
  starts (of which ``Ledger.reserve``), the stream itself against the direct one, and the time
  after the last text piece until the turn ends, minus the same tail of the direct call (of which
  ``Ledger.capture``). The ledger calls are timed by wrapping the two bound methods on this run's
  ``Ledger`` instance (well under a microsecond added per call). CPU per call is split into the
  calling thread and the background (litellm's logging pool and the fake server's handler thread);
* correctness: every turn ``ok`` with the server's text; ``Ledger.verify()`` clean; one ``ok``
  usage row per turn and every hold captured; the server saw exactly direct + gated requests, each
  gated hold's id exactly once.

Between calls the benchmark waits until the process is quiet again: the fake server's handler
thread gone and litellm's logging pool idle (litellm hands every streamed chunk and the finished
response to that pool, and its work runs on after the stream ends). A person's next turn comes
seconds later, so each call starts quiet; the background work a call sets off during its own
stream stays in its time, as it would in production. ``spill_p50_ms`` is how long that wait was
after each side: the background work a call leaves behind once it has returned.

By default the fake server runs in this process (a thread, as in the tests) and sends each reply
at once, the fake's ``ok()``; every request opens a new loopback connection (it answers
``Connection: close``), which both sides pay alike. How much of litellm's background work is still
running when a stream ends, and so what the gateway's settlement has to share the GIL with,
depends on how the chunks arrive; two options vary that: ``--server-process`` (the provider in
a child process, sharing no GIL with the caller, as a real one would not) and ``--chunk-delay-ms``
(a pause before every stream event, as a real model's tokens trickle in). The provider module
turns off litellm's per-chunk logging (``litellm.disable_streaming_logging``), for both sides.

Progress goes to stderr; the last line of stdout is one JSON object with the results. The exit
status is 1 only when a correctness check fails: the overhead target is reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

# First: the package sets LITELLM_LOCAL_MODEL_COST_MAP, which litellm reads when it is imported.
import workbench  # noqa: F401

# isort: split
import litellm
import sqlalchemy as sa
from litellm.litellm_core_utils.thread_pool_executor import executor as litellm_pool

from ledger.amounts import credits, format_credits
from ledger.schema import holds as holds_table
from ledger.schema import usage_records
from ledger.service import Ledger
from scripts.bench_measure import log, percentile, quiet, stage
from tests.fake_providers import FakeProvider, reply_for, slow_stream
from tests.gateway_harness import make_settings
from workbench.db.ledger_access import open_ledger
from workbench.gateway.caller import Caller
from workbench.gateway.facade import HOLD_HEADER, Gateway
from workbench.gateway.providers.base import (
    CallOptions,
    ChatCall,
    ChatReport,
    ImageBatch,
    ImageCall,
    Usage,
)
from workbench.gateway.providers.litellm_provider import _chat_cost, _connection, _usage
from workbench.gateway.requests import DEFAULT_MAX_TOKENS
from workbench.gateway.setup import build_gateway

ROOT = Path(__file__).resolve().parent.parent

MODEL = "openai/gpt-4o-mini"
PROMPT = "Say hello in five words."
API_KEY = "sk-bench"
SEED_CREDITS = credits(100_000_000)  # micro-credits: far more than any run spends
TARGET_OVERHEAD_P50_MS = 3.0


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def p50_ms(values: Sequence[float]) -> float:
    return ms(percentile(values, 0.5))


class BenchFailure(Exception):
    """A call did not do what the benchmark expects (wrong text, no usage, not ``ok``)."""


# --- the fake provider ---------------------------------------------------------------------------


def _serve(conn: Connection, chunk_delay_s: float) -> None:
    """A child process's fake provider (``--server-process``): serves until told to stop, and
    answers "requests" with the hold header of every API request it has had."""
    with FakeProvider() as fake:
        if chunk_delay_s:
            fake.default = slow_stream(chunk_delay_s)
        conn.send((fake.openai_base, fake.anthropic_base))
        while (message := conn.recv()) != "stop":
            if message == "requests":
                conn.send([r.headers.get(HOLD_HEADER.lower(), "") for r in fake.api_requests()])


class Server:
    """The loopback fake provider: in this process (the default, as the tests run it) or in a
    child process (``--server-process``: the provider does not share this process's GIL, as a
    real one would not)."""

    def __init__(self, *, in_process: bool, chunk_delay_s: float) -> None:
        self.fake: FakeProvider | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        if in_process:
            self.fake = FakeProvider().start()
            if chunk_delay_s:
                self.fake.default = slow_stream(chunk_delay_s)
            self.openai_base, self.anthropic_base = self.fake.openai_base, self.fake.anthropic_base
            return
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, chunk_delay_s), name="fake-provider", daemon=True
        )
        self._process.start()
        if not self._conn.poll(60):
            raise SystemExit("the fake provider process did not start")
        self.openai_base, self.anthropic_base = self._conn.recv()

    def hold_tags(self) -> list[str]:
        """The hold header of every API request the server has had, in order."""
        if self.fake is not None:
            return [r.headers.get(HOLD_HEADER.lower(), "") for r in self.fake.api_requests()]
        assert self._conn is not None
        self._conn.send("requests")
        tags: list[str] = self._conn.recv()
        return tags

    def wait_idle(self, timeout_s: float) -> bool:
        """Until the last request's handler is done (in this process; a child's costs us
        nothing). False if it is still running after ``timeout_s``."""
        if self.fake is None:
            return True
        if self.fake.requests and not self.fake.requests[-1].finished.wait(timeout_s):
            return False
        deadline = time.perf_counter() + timeout_s
        while any("process_request" in t.name for t in threading.enumerate()):
            if time.perf_counter() > deadline:
                return False
            time.sleep(0.0002)
        return True

    def stop(self) -> None:
        if self.fake is not None:
            self.fake.stop()
        if self._process is not None and self._conn is not None:
            with suppress(OSError):
                self._conn.send("stop")
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()


# --- the sides -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One call: wall time; CPU of the calling thread and of the rest of the process (litellm's
    logging pool, the fake server's handler); and the time from the start to the last text piece
    (the rest is the tail: usage chunk, end of stream and, through the gateway, settlement)."""

    total_s: float
    main_cpu_s: float
    background_cpu_s: float
    to_last_piece_s: float
    pre_s: float = 0.0  # through the gateway: time in Gateway.chat(), before the stream starts


class Clock:
    """Wall and CPU clocks read together at a call's start and end."""

    def __init__(self) -> None:
        self.process = time.process_time()
        self.thread = time.thread_time()
        self.start = time.perf_counter()

    def done(self, last_piece: float, pre_s: float = 0.0) -> Timed:
        end = time.perf_counter()
        thread = time.thread_time() - self.thread
        process = time.process_time() - self.process
        return Timed(end - self.start, thread, process - thread, last_piece - self.start, pre_s)


@dataclass
class Direct:
    """The provider's litellm call, made by hand with the gateway's exact arguments."""

    model: str
    messages: list[dict[str, str]]
    connection: dict[str, Any]
    expected: str
    count: int = 0
    usage: Usage | None = None

    def call(self) -> Timed:
        self.count += 1
        clock = Clock()
        stream = litellm.completion(
            model=self.model,
            messages=[dict(m) for m in self.messages],
            max_tokens=DEFAULT_MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={HOLD_HEADER: f"direct-{self.count}"},
            **self.connection,
        )
        pieces: list[str] = []
        usage = None
        last = clock.start
        try:
            for chunk in stream:
                reported = _usage(getattr(chunk, "usage", None))
                if reported is not None and (reported.input_tokens or reported.output_tokens):
                    usage = reported
                choices = getattr(chunk, "choices", None) or ()
                text = choices[0].delta.content if choices else None
                if text:
                    pieces.append(text)
                    last = time.perf_counter()
        finally:
            stream.close()
        timed = clock.done(last)
        if "".join(pieces) != self.expected or usage is None:
            raise BenchFailure(f"direct call: text {''.join(pieces)!r}, usage {usage!r}")
        self.usage = usage
        return timed


@dataclass
class Gated:
    """A turn through ``Gateway.chat``: reserve, call, capture + usage row."""

    gateway: Gateway
    caller: Caller
    model: str
    messages: list[dict[str, str]]
    keys: str
    expected: str
    count: int = 0
    hold_ids: list[int] = field(default_factory=list)

    def call(self) -> Timed:
        self.count += 1
        clock = Clock()
        turn = self.gateway.chat(
            self.caller, self.messages, key=f"{self.keys}-{self.count}", model=self.model
        )
        ready = time.perf_counter()
        pieces: list[str] = []
        last = ready
        for piece in turn:
            pieces.append(piece)
            last = time.perf_counter()
        timed = clock.done(last, pre_s=ready - clock.start)
        result = turn.result
        if result is None or result.status != "ok" or "".join(pieces) != self.expected:
            raise BenchFailure(
                f"gated call: status {result.status if result else None!r}, "
                f"text {''.join(pieces)!r}"
            )
        self.hold_ids.append(result.hold_id)
        return timed


class Replay:
    """A provider that streams a fixed reply with no HTTP and no litellm call, then reports the
    usage and (by the real provider's own lookup) the cost, as ``LitellmProvider`` does."""

    def __init__(self, text: str, usage: Usage) -> None:
        words = text.split(" ")
        self.pieces = [w + " " for w in words[:-1]] + words[-1:]
        self.usage = usage

    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        yield from self.pieces
        report.usage = self.usage
        report.usd_cost = _chat_cost(call.model.litellm_model, self.usage)

    def generate_images(self, call: ImageCall) -> ImageBatch:
        raise NotImplementedError


def replay_gateway(real: Gateway, provider: Replay) -> Gateway:
    """A gateway like ``real`` (same ledger, catalogue, keys, timing) whose providers replay."""
    return Gateway(
        real.ledger,
        real.catalogue,
        real.keys,
        {"litellm": provider, "demo": provider},
        timing=real.timing,
        limits=real.limits,
        images=real.images,
    )


class LedgerTimer:
    """Times ``reserve`` and ``capture`` on one ``Ledger`` instance by wrapping its bound methods
    (instance attributes: the class and every other ledger are untouched)."""

    def __init__(self, book: Ledger) -> None:
        self.last: dict[str, float] = {}
        for name in ("reserve", "capture"):
            setattr(book, name, self._wrap(name, getattr(book, name)))

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.last[name] = time.perf_counter() - start

        return timed

    def take(self) -> tuple[float, float]:
        return self.last.pop("reserve", math.nan), self.last.pop("capture", math.nan)


class Quiesce:
    """Waits until the previous call's background work is over: the fake server's handler thread
    (when in this process) gone and litellm's logging pool idle. Returns how long that took."""

    def __init__(self, server: Server, timeout_s: float = 2.0) -> None:
        self.server = server
        self.timeout_s = timeout_s
        # litellm's bounded logging executor counts its queued + running tasks in a semaphore.
        # Without it (another litellm version), a fixed pause stands in.
        slots = getattr(litellm_pool, "_pending_slots", None)
        limit = getattr(litellm_pool, "_max_pending_tasks", None)
        exact = isinstance(getattr(slots, "_value", None), int) and isinstance(limit, int)
        self._slots, self._limit = (slots, limit) if exact else (None, None)
        self.exact = exact

    def _pool_idle(self) -> bool:
        if self._slots is None or self._limit is None:
            return True
        return bool(self._slots._value >= self._limit)

    def __call__(self) -> float:
        start = time.perf_counter()
        idle = self.server.wait_idle(self.timeout_s)
        if not self.exact:
            time.sleep(0.02)
        deadline = start + self.timeout_s
        while not self._pool_idle():
            if time.perf_counter() > deadline:
                idle = False
                break
            time.sleep(0.0002)
        if not idle:
            log("  quiesce: gave up waiting for background work")
        return time.perf_counter() - start


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Samples:
    direct: list[Timed] = field(default_factory=list)
    gated: list[Timed] = field(default_factory=list)
    alone: list[Timed] = field(default_factory=list)
    reserve_s: list[float] = field(default_factory=list)
    capture_s: list[float] = field(default_factory=list)
    alone_reserve_s: list[float] = field(default_factory=list)
    alone_capture_s: list[float] = field(default_factory=list)
    spill_s: dict[str, list[float]] = field(
        default_factory=lambda: {"direct": [], "gated": [], "alone": []}
    )


def run_pairs(
    direct: Direct,
    gated: Gated,
    alone: Gated,
    timer: LedgerTimer,
    quiesce: Quiesce,
    pairs: int,
) -> Samples:
    out = Samples()
    report_every = max(1, pairs // 5)
    previous: str | None = None
    quiesce()
    for i in range(pairs):
        order = ("direct", "gated") if i % 2 == 0 else ("gated", "direct")
        for name in (*order, "alone"):
            waited = quiesce()
            if previous is not None:
                out.spill_s[previous].append(waited)
            if name == "direct":
                out.direct.append(direct.call())
            else:
                timed = (gated if name == "gated" else alone).call()
                reserve, capture = timer.take()
                if name == "gated":
                    out.gated.append(timed)
                    out.reserve_s.append(reserve)
                    out.capture_s.append(capture)
                else:
                    out.alone.append(timed)
                    out.alone_reserve_s.append(reserve)
                    out.alone_capture_s.append(capture)
            previous = name
        if (i + 1) % report_every == 0 or i + 1 == pairs:
            d = percentile([t.total_s for t in out.direct], 0.5)
            g = percentile([t.total_s for t in out.gated], 0.5)
            a = percentile([t.total_s for t in out.alone], 0.5)
            log(
                f"  {i + 1:5d}/{pairs} pairs: p50 direct {d * 1000:6.2f} ms, "
                f"gated {g * 1000:6.2f} ms, gateway alone {a * 1000:5.2f} ms"
            )
    return out


def check(
    book: Ledger,
    server: Server,
    direct: Direct,
    gated: Gated,
    alone: Gated,
    requests_before: int,
) -> tuple[list[str], dict[str, Any]]:
    """Everything the run wrote and sent, checked; returns (problems, figures)."""
    problems: list[str] = []
    mismatches = book.verify()
    problems += [f"verify: {m}" for m in mismatches[:10]]
    turns = gated.count + alone.count
    with book.engine.connect() as conn:
        rows = list(
            conn.execute(
                sa.select(usage_records.c.status, usage_records.c.hold_id, usage_records.c.credits)
            )
        )
        holds = list(conn.execute(sa.select(holds_table.c.status)))
    statuses = Counter(r.status for r in rows)
    if len(rows) != turns or statuses != Counter({"ok": turns}):
        problems.append(f"usage rows {dict(statuses)} for {turns} turns")
    hold_status = Counter(h.status for h in holds)
    if len(holds) != turns or hold_status != Counter({"captured": turns}):
        problems.append(f"holds {dict(hold_status)} for {turns} turns")
    # A short reply costs a fraction of a credit, charged exactly: never 0, never a whole credit.
    if any(not 0 < r.credits < credits(1) for r in rows):
        problems.append("a turn was charged nothing or a whole credit or more")
    if sorted(r.hold_id for r in rows) != sorted(gated.hold_ids + alone.hold_ids):
        problems.append("usage rows do not match the turns' holds one to one")
    sent = server.hold_tags()[requests_before:]
    tags = Counter(sent)
    direct_sent = sum(n for tag, n in tags.items() if tag.startswith("direct-"))
    per_hold = Counter({int(tag): n for tag, n in tags.items() if tag.isdigit()})
    if len(sent) != direct.count + gated.count:
        problems.append(
            f"the server got {len(sent)} requests for {direct.count} direct + {gated.count} gated"
        )
    if direct_sent != direct.count:
        problems.append(f"{direct_sent} direct requests for {direct.count} direct calls")
    if per_hold != Counter(gated.hold_ids):
        problems.append("gated requests do not carry each hold's id exactly once")
    figures = {
        "usage_rows": len(rows),
        "holds_captured": hold_status.get("captured", 0),
        "credits_per_turn": format_credits(sum(r.credits for r in rows) // max(1, len(rows))),
        "server_requests": len(sent),
        "verify_problems": len(mismatches),
    }
    return problems, figures


def summarise(s: Samples) -> dict[str, Any]:
    def paired(f: Callable[[Timed, Timed], float]) -> list[float]:
        return [f(g, d) for g, d in zip(s.gated, s.direct, strict=True)]

    direct = [t.total_s for t in s.direct]
    gated = [t.total_s for t in s.gated]
    alone = [t.total_s for t in s.alone]
    overhead = paired(lambda g, d: g.total_s - d.total_s)
    direct_p50, gated_p50 = percentile(direct, 0.5), percentile(gated, 0.5)
    return {
        "direct_p50_ms": ms(direct_p50),
        "gated_p50_ms": ms(gated_p50),
        "overhead_p50_ms": ms(percentile(overhead, 0.5)),
        "overhead_p99_ms": ms(percentile(overhead, 0.99)),
        "overhead_of_p50s_ms": ms(gated_p50 - direct_p50),
        "direct_p99_ms": ms(percentile(direct, 0.99)),
        "gated_p99_ms": ms(percentile(gated, 0.99)),
        "gateway_alone_p50_ms": ms(percentile(alone, 0.5)),
        "gateway_alone_p99_ms": ms(percentile(alone, 0.99)),
        "breakdown_p50_ms": {
            "before_stream": p50_ms([t.pre_s for t in s.gated]),
            "ledger_reserve": p50_ms(s.reserve_s),
            # From chat() returning to the last text piece, against the direct call's start to
            # its last piece; then from the last piece to the end, gated minus direct.
            "stream_vs_direct": p50_ms(
                paired(lambda g, d: (g.to_last_piece_s - g.pre_s) - d.to_last_piece_s)
            ),
            "tail_vs_direct": p50_ms(
                paired(
                    lambda g, d: (g.total_s - g.to_last_piece_s) - (d.total_s - d.to_last_piece_s)
                )
            ),
            "ledger_capture": p50_ms(s.capture_s),
            # The same two ledger calls in the gateway-alone turns (no litellm work around them).
            "alone_ledger_reserve": p50_ms(s.alone_reserve_s),
            "alone_ledger_capture": p50_ms(s.alone_capture_s),
        },
        "cpu_p50_ms": {
            "direct_main": p50_ms([t.main_cpu_s for t in s.direct]),
            "gated_main": p50_ms([t.main_cpu_s for t in s.gated]),
            "direct_background": p50_ms([t.background_cpu_s for t in s.direct]),
            "gated_background": p50_ms([t.background_cpu_s for t in s.gated]),
        },
        "spill_p50_ms": {side: p50_ms(waits) for side, waits in s.spill_s.items()},
    }


def litellm_version() -> str | None:
    try:
        return version("litellm")
    except PackageNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300, help="timed pairs (direct + gated)")
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed calls per side first (at least 1)"
    )
    parser.add_argument("--model", default=MODEL, help=f"catalogue id (default {MODEL})")
    parser.add_argument(
        "--json-only", action="store_true", help="no progress on stderr, only the JSON line"
    )
    parser.add_argument(
        "--server-process",
        action="store_true",
        help="run the fake provider in a child process instead of a thread of this one (the "
        "provider then shares no GIL with the caller, as a real one would not)",
    )
    parser.add_argument(
        "--chunk-delay-ms",
        type=float,
        default=0.0,
        help="the fake provider pauses this long before each stream event (default 0: the "
        "whole reply at once, the fake's default ok())",
    )
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 1 or args.chunk_delay_ms < 0:
        parser.error("--calls and --warmup must be positive, --chunk-delay-ms not negative")
    quiet(args.json_only)

    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    run = uuid.uuid4().hex[:8]
    tmpdir = Path(tempfile.mkdtemp(prefix="bench_gateway_"))
    where = "a child process" if args.server_process else "this process"
    log(f"fake provider in {where}")
    server = Server(in_process=not args.server_process, chunk_delay_s=args.chunk_delay_ms / 1000)
    book: Ledger | None = None
    try:
        with stage("set-up (SQLite, gateway)"):
            config = make_settings(
                cast(FakeProvider, server),  # only its openai_base and anthropic_base are read
                tmpdir,
                database_url=f"sqlite:///{tmpdir / 'ledger.db'}",
                openai_api_key=API_KEY,
            )
            book = open_ledger(config)  # as the app opens it: migrated, catalogue seeded
            workspace = book.create_workspace(f"bench-{run}", "Bench")
            member = book.create_user(f"bench-{run}-member")
            book.add_member(workspace.id, member.id, "member")
            book.grant(workspace.account_id, SEED_CREDITS, kind="paid", key=f"bench-{run}-seed")
            caller = Caller(member.id, workspace.id, workspace.account_id)
            gateway = build_gateway(book, config)
            if gateway.limits is not None:
                raise SystemExit("rate limits should be off for the benchmark")
            entry = gateway.catalogue.resolve(
                args.model, "chat", gateway.keys.available(), fallback=False
            ).entry
            if entry.provider == "demo":
                raise SystemExit(f"{args.model!r} is served by the demo provider, not litellm")
            credentials = gateway.keys.providers.get(entry.provider)
            if credentials is None or credentials.api_base is None:
                raise SystemExit(f"no fake-provider credentials for {args.model!r}")
            messages = [{"role": "user", "content": PROMPT}]
            expected = reply_for(messages)
            # The provider's own helper: key, base URL, timeout and retries as it sends them.
            options = CallOptions(credentials, gateway.timing.timeout_s, gateway.timing.max_retries)
            connection = _connection(options)
            direct = Direct(entry.litellm_model, messages, connection, expected)
            gated = Gated(gateway, caller, entry.id, messages, f"bench-{run}", expected)
            timer = LedgerTimer(book)
            quiesce = Quiesce(server)
            requests_before = len(server.hold_tags())
        with stage(f"warm-up ({args.warmup} calls per side)"):
            for _ in range(args.warmup):
                quiesce()
                direct.call()
                quiesce()
                gated.call()
            assert direct.usage is not None
            alone = Gated(
                replay_gateway(gateway, Replay(expected, direct.usage)),
                caller,
                entry.id,
                messages,
                f"bench-{run}-alone",
                expected,
            )
            for _ in range(args.warmup):
                alone.call()
            timer.take()
        with stage(f"timed ({args.calls} interleaved pairs, each with a gateway-alone turn)"):
            samples = run_pairs(direct, gated, alone, timer, quiesce, args.calls)
        with stage("check"):
            problems, figures = check(book, server, direct, gated, alone, requests_before)
            for problem in problems:
                log(f"  PROBLEM: {problem}")
        result: dict[str, Any] = {
            "backend": "sqlite",
            "model": entry.id,
            "calls": args.calls,
            "warmup": args.warmup,
            "server": "process" if args.server_process else "thread",
            "chunk_delay_ms": args.chunk_delay_ms,
            "litellm_chunk_logging": not litellm.disable_streaming_logging,
            **summarise(samples),
            "quiesce_exact": quiesce.exact,
            **figures,
            "problems": len(problems),
        }
        targets = {
            "overhead_p50_le_3ms": result["overhead_p50_ms"] <= TARGET_OVERHEAD_P50_MS,
            "correct": not problems,
        }
        result["targets"] = targets
        result["targets_met"] = all(targets.values())
        result["sqlite_version"] = sqlite3.sqlite_version
        result["litellm_version"] = litellm_version()
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        # Other load on the machine slows both sides alike, but it shows in the absolute figures.
        result["loadavg_1m"] = [load_at_start, round(os.getloadavg()[0], 2)]
        result["cpus"] = os.cpu_count()
    except BenchFailure as failure:
        raise SystemExit(f"benchmark failed: {failure}") from None
    finally:
        if book is not None:
            book.close()
        server.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(json.dumps(result))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
