#!/usr/bin/env python3
"""Benchmark the provider gateway's overhead: a streamed chat turn through the gateway against the
same litellm call made directly, both served by the same loopback fake provider, on SQLite.

    .venv/bin/python scripts/bench_gateway.py
    .venv/bin/python scripts/bench_gateway.py --calls 1000 --json-only

What is measured, in one run:

* direct: ``litellm.completion`` with exactly the arguments the gateway's ``LitellmProvider`` uses
  (model, messages, ``max_tokens`` of the gateway's default, ``stream=True`` with usage, key, base
  URL, timeout, retries, a tagging header), the whole stream consumed the way the provider does
  (text deltas joined, the usage chunk read);
* gated: ``Gateway.chat`` (check, resolve, price, token estimate, reserve a hold) and then the
  turn iterated to its end (the same litellm call and stream, then capture + the usage row in one
  transaction), a unique idempotency key per call, rate limits off;
* interleaved pairs: one direct and one gated call per pair, alternating which goes first, so
  machine drift hits both alike. ``overhead`` is gated - direct per pair; its p50 and p99 are
  reported, with the difference of the two sides' p50s beside them;
* a breakdown measured from outside the gateway: the time in ``Gateway.chat`` before the stream
  starts (of which ``Ledger.reserve``), and the time after the last text piece until the turn's
  iterator ends, minus the same tail on the direct side (the provider's cost lookup, then capture
  + usage row: of which ``Ledger.capture``). The two ledger calls are timed by wrapping the bound
  methods on this run's ``Ledger`` instance (well under a microsecond added per call);
* correctness: every gated turn ``ok`` with the server's text; ``Ledger.verify()`` clean; one
  usage row (``ok``) per gated call and every hold captured; the server saw exactly direct + gated
  requests, each gated hold's id exactly once.

The fake server runs in this process (its handler threads share the GIL with the client), and
each request opens a new loopback connection (the server answers ``Connection: close``); both
sides pay that alike. Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import workbench  # noqa: E402, F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)

import litellm  # noqa: E402

from ledger.service import Ledger  # noqa: E402
from tests.fake_providers import FakeProvider, reply_for  # noqa: E402
from tests.gateway_harness import Harness, make_settings  # noqa: E402
from workbench.gateway import DEFAULT_MAX_TOKENS, HOLD_HEADER, Caller, Gateway  # noqa: E402
from workbench.gateway_setup import build_gateway  # noqa: E402
from workbench.ledger_access import open_ledger  # noqa: E402
from workbench.providers.litellm_provider import _usage  # noqa: E402

MODEL = "openai/gpt-4o-mini"
PROMPT = "Say hello in five words."
API_KEY = "sk-bench"
SEED_CREDITS = 10**11
TARGET_OVERHEAD_P50_MS = 3.0
QUIET = False  # --json-only


def log(message: str) -> None:
    if not QUIET:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextmanager
def stage(what: str) -> Iterator[None]:
    start = time.perf_counter()
    log(f"{what} ...")
    yield
    log(f"{what}: {time.perf_counter() - start:.1f}s")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (as ``bench_ledger``)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class BenchFailure(Exception):
    """A call did not do what the benchmark expects (wrong text, no usage, not ``ok``)."""


# --- the two sides -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One call: wall time, process CPU time (this process serves the fake too), and the time
    from the start to the last text piece (the rest is the stream's tail: usage chunk, [DONE],
    and on the gated side the settlement)."""

    total_s: float
    cpu_s: float
    to_last_piece_s: float
    pre_s: float = 0.0  # gated: time in Gateway.chat() (before the stream starts)


@dataclass
class Direct:
    """The provider's litellm call, made by hand with the gateway's exact arguments."""

    model: str
    messages: list[dict[str, str]]
    connection: dict[str, Any]
    expected: str
    count: int = 0

    def call(self) -> Timed:
        self.count += 1
        cpu = time.process_time()
        start = time.perf_counter()
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
        last = start
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
        end = time.perf_counter()
        cpu = time.process_time() - cpu
        if "".join(pieces) != self.expected or usage is None:
            raise BenchFailure(f"direct call: text {''.join(pieces)!r}, usage {usage!r}")
        return Timed(end - start, cpu, last - start)


@dataclass
class Gated:
    """The same turn through ``Gateway.chat``: reserve, call, capture + usage row."""

    gateway: Gateway
    caller: Caller
    model: str
    messages: list[dict[str, str]]
    run: str
    expected: str
    count: int = 0
    hold_ids: list[int] = field(default_factory=list)

    def call(self) -> Timed:
        self.count += 1
        key = f"bench-{self.run}-{self.count}"
        cpu = time.process_time()
        start = time.perf_counter()
        turn = self.gateway.chat(self.caller, self.messages, key=key, model=self.model)
        ready = time.perf_counter()
        pieces: list[str] = []
        last = ready
        for piece in turn:
            pieces.append(piece)
            last = time.perf_counter()
        end = time.perf_counter()
        cpu = time.process_time() - cpu
        result = turn.result
        if result is None or result.status != "ok" or "".join(pieces) != self.expected:
            raise BenchFailure(
                f"gated call: status {result.status if result else None!r}, "
                f"text {''.join(pieces)!r}"
            )
        self.hold_ids.append(result.hold_id)
        return Timed(end - start, cpu, last - start, pre_s=ready - start)


class LedgerTimer:
    """Times ``reserve`` and ``capture`` on one ``Ledger`` instance by wrapping its bound methods
    (instance attributes: the class and every other ledger are untouched)."""

    def __init__(self, book: Ledger) -> None:
        self.book = book
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
        reserve, capture = self.last.pop("reserve", math.nan), self.last.pop("capture", math.nan)
        return reserve, capture


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Samples:
    direct: list[Timed] = field(default_factory=list)
    gated: list[Timed] = field(default_factory=list)
    reserve_s: list[float] = field(default_factory=list)
    capture_s: list[float] = field(default_factory=list)


def run_pairs(direct: Direct, gated: Gated, timer: LedgerTimer, pairs: int) -> Samples:
    out = Samples()
    report_every = max(1, pairs // 5)
    for i in range(pairs):
        order = (direct, gated) if i % 2 == 0 else (gated, direct)
        for side in order:
            timed = side.call()
            if side is direct:
                out.direct.append(timed)
            else:
                out.gated.append(timed)
                reserve, capture = timer.take()
                out.reserve_s.append(reserve)
                out.capture_s.append(capture)
        if (i + 1) % report_every == 0 or i + 1 == pairs:
            d = percentile([t.total_s for t in out.direct], 0.5)
            g = percentile([t.total_s for t in out.gated], 0.5)
            log(
                f"  {i + 1:5d}/{pairs} pairs: p50 direct {d * 1000:6.2f} ms, "
                f"gated {g * 1000:6.2f} ms"
            )
    return out


def check(
    harness: Harness, direct: Direct, gated: Gated, requests_before: int
) -> tuple[list[str], dict[str, Any]]:
    """Everything the run wrote and sent, checked; returns (problems, figures)."""
    problems: list[str] = []
    mismatches = harness.ledger.verify()
    problems += [f"verify: {m}" for m in mismatches[:10]]
    rows = harness.usage_rows()
    holds = harness.holds()
    statuses = Counter(r.status for r in rows)
    if len(rows) != gated.count or statuses != Counter({"ok": gated.count}):
        problems.append(f"usage rows {dict(statuses)} for {gated.count} gated calls")
    hold_status = Counter(h.status for h in holds)
    if len(holds) != gated.count or hold_status != Counter({"captured": gated.count}):
        problems.append(f"holds {dict(hold_status)} for {gated.count} gated calls")
    if {r.hold_id for r in rows} != set(gated.hold_ids):
        problems.append("usage rows do not match the gated calls' holds")
    sent = harness.fake.api_requests()[requests_before:]
    tags = Counter(r.headers.get(HOLD_HEADER.lower(), "") for r in sent)
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
        "server_requests": len(sent),
        "verify_problems": len(mismatches),
    }
    return problems, figures


def summarise(samples: Samples) -> dict[str, Any]:
    direct_total = [t.total_s for t in samples.direct]
    gated_total = [t.total_s for t in samples.gated]
    overhead = [g - d for g, d in zip(gated_total, direct_total, strict=True)]
    cpu_overhead = [
        g.cpu_s - d.cpu_s for g, d in zip(samples.gated, samples.direct, strict=True)
    ]
    pre = [t.pre_s for t in samples.gated]
    # Stream: from the gated stream's start (chat() returned) to its last text piece, against
    # the direct call's start to its last piece. Tail: last piece to the end, gated minus direct.
    stream = [
        (g.to_last_piece_s - g.pre_s) - d.to_last_piece_s
        for g, d in zip(samples.gated, samples.direct, strict=True)
    ]
    tail = [
        (g.total_s - g.to_last_piece_s) - (d.total_s - d.to_last_piece_s)
        for g, d in zip(samples.gated, samples.direct, strict=True)
    ]
    direct_p50, gated_p50 = percentile(direct_total, 0.5), percentile(gated_total, 0.5)
    return {
        "direct_p50_ms": ms(direct_p50),
        "gated_p50_ms": ms(gated_p50),
        "overhead_p50_ms": ms(percentile(overhead, 0.5)),
        "overhead_p99_ms": ms(percentile(overhead, 0.99)),
        "overhead_of_p50s_ms": ms(gated_p50 - direct_p50),
        "direct_p99_ms": ms(percentile(direct_total, 0.99)),
        "gated_p99_ms": ms(percentile(gated_total, 0.99)),
        "overhead_cpu_p50_ms": ms(percentile(cpu_overhead, 0.5)),
        "breakdown_p50_ms": {
            "before_stream": ms(percentile(pre, 0.5)),
            "ledger_reserve": ms(percentile(samples.reserve_s, 0.5)),
            "stream_vs_direct": ms(percentile(stream, 0.5)),
            "tail_vs_direct": ms(percentile(tail, 0.5)),
            "ledger_capture": ms(percentile(samples.capture_s, 0.5)),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300, help="timed pairs (direct + gated)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per side first")
    parser.add_argument("--model", default=MODEL, help=f"catalogue id (default {MODEL})")
    parser.add_argument(
        "--json-only", action="store_true", help="no progress on stderr, only the JSON line"
    )
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 0:
        parser.error("--calls must be positive and --warmup not negative")
    global QUIET
    QUIET = args.json_only

    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    run = uuid.uuid4().hex[:8]
    tmpdir = Path(tempfile.mkdtemp(prefix="bench_gateway_"))
    fake = FakeProvider().start()
    book: Ledger | None = None
    try:
        with stage("set-up (SQLite, fake provider, gateway)"):
            config = make_settings(
                fake,
                tmpdir,
                database_url=f"sqlite:///{tmpdir / 'ledger.db'}",
                openai_api_key=API_KEY,
            )
            book = open_ledger(config)
            workspace = book.create_workspace(f"bench-{run}", "Bench")
            member = book.create_user(f"bench-{run}-member")
            book.add_member(workspace.id, member.id, "member")
            book.grant(workspace.account_id, SEED_CREDITS, kind="paid", key=f"bench-{run}-seed")
            caller = Caller(member.id, workspace.id, workspace.account_id)
            harness = Harness(build_gateway(book, config), book, fake, caller, config)
            gateway = harness.gateway
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
            connection: dict[str, Any] = {
                "timeout": gateway.timing.timeout_s,
                "api_key": credentials.api_key.get_secret_value()
                if credentials.api_key
                else None,
                "api_base": credentials.api_base,
            }
            if entry.litellm_model.startswith("anthropic/"):
                connection["num_retries"] = gateway.timing.max_retries
                connection["retry_strategy"] = "exponential_backoff_retry"
            else:
                connection["max_retries"] = gateway.timing.max_retries
            direct = Direct(entry.litellm_model, messages, connection, expected)
            gated = Gated(gateway, caller, entry.id, messages, run, expected)
            timer = LedgerTimer(book)
            requests_before = len(fake.api_requests())
        with stage(f"warm-up ({args.warmup} calls per side)"):
            for _ in range(args.warmup):
                direct.call()
                gated.call()
            timer.take()
        with stage(f"timed ({args.calls} interleaved pairs)"):
            samples = run_pairs(direct, gated, timer, args.calls)
        with stage("check"):
            problems, figures = check(harness, direct, gated, requests_before)
            for problem in problems:
                log(f"  PROBLEM: {problem}")
        result: dict[str, Any] = {
            "backend": "sqlite",
            "model": entry.id,
            "calls": args.calls,
            "warmup": args.warmup,
            **summarise(samples),
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
        result["litellm_version"] = _litellm_version()
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        # Other load on the machine slows both sides alike, but it shows in the absolute figures.
        result["loadavg_1m"] = [load_at_start, round(os.getloadavg()[0], 2)]
        result["cpus"] = os.cpu_count()
    finally:
        if book is not None:
            book.close()
        fake.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(json.dumps(result))
    return 0 if not problems else 1


def _litellm_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("litellm")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
