"""The workbench's Prometheus metrics, and the two calls that feed them.

Defined once per process here, never in a page script (a script reruns; a metric registered
twice is an error). ``workbench.gateway.settlement`` reports each call once, where its usage row
is written: ``call_settled`` for a provider call however it ended (captured, released, timed
out, never sent), ``call_refused`` for a refusal before any hold. So ``workbench_calls_total``
counts exactly the usage rows the gateway writes, by their status.

Labels are only catalogue model ids (as the ledger records them), feature keys, usage statuses
and error class names: never a user, a workspace, a prompt or any other free text. A value that
does not look like one of those is counted as ``other`` rather than let through.

With ``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts), prometheus_client keeps these
values in files there and ``/metrics`` sums every process's (``workbench.web.metrics_route``).
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

from ledger.holds import Hold
from ledger.usage import CallUsage

# Not an error the provider made: the turn was closed before it was sent (``chat_turn``).
NOT_SENT = "NotSent"

# Chat replies stream for seconds to minutes; the deadline with retries is a few minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

CALLS = Counter(
    "workbench_calls",
    "Calls through the gateway, one per usage row written: provider calls by how they ended "
    "(ok, cancelled, error, timeout) and refusals before any hold (refused).",
    ["model", "feature", "status"],
)
CREDITS_CAPTURED = Counter(
    "workbench_credits_captured_micros",
    "Micro-credits captured from holds (1 credit = 1,000,000).",
    ["model", "feature"],
)
REFUSALS = Counter(
    "workbench_refusals",
    "Requests refused before any hold, by the refusal's error type.",
    ["feature", "reason"],
)
PROVIDER_ERRORS = Counter(
    "workbench_provider_errors",
    "Provider calls whose usage row names an error: the provider failed, timed out, or sent "
    "back something unusable (also when a reply it had already billed was charged).",
    ["model", "error_type"],
)
LATENCY = Histogram(
    "workbench_call_latency_seconds",
    "Time from dispatch to the end of a provider call (the last word, or the error).",
    ["model", "feature"],
    buckets=LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "workbench_time_to_first_token_seconds",
    "Time from dispatch to a chat reply's first piece of text (an image call's whole time).",
    ["model", "feature"],
    buckets=TTFT_BUCKETS,
)

# Catalogue ids ("openai/gpt-4o-mini"), feature keys, statuses and class names all fit this.
_LABEL = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
OTHER = "other"


def label(value: str | None) -> str:
    """``value`` if it has the shape of an identifier, else ``other``."""
    return value if value is not None and _LABEL.fullmatch(value) else OTHER


def call_settled(hold: Hold, usage: CallUsage, captured: int) -> None:
    """One provider call's hold ended (or, on a timeout, its usage row was written)."""
    model, feature = label(hold.model), label(hold.feature_key)
    CALLS.labels(model, feature, label(usage.status)).inc()
    if captured:
        CREDITS_CAPTURED.labels(model, feature).inc(captured)
    if usage.error_type is not None and usage.error_type != NOT_SENT:
        PROVIDER_ERRORS.labels(model, label(usage.error_type)).inc()
    if usage.latency_ms is not None:
        LATENCY.labels(model, feature).observe(usage.latency_ms / 1000)
    if usage.ttft_ms is not None:
        TIME_TO_FIRST_TOKEN.labels(model, feature).observe(usage.ttft_ms / 1000)


def call_refused(model: str, feature: str, reason: str) -> None:
    """A request refused before any hold; ``reason`` is the refusal's class name."""
    CALLS.labels(label(model), label(feature), "refused").inc()
    REFUSALS.labels(label(feature), label(reason)).inc()
