"""What the benchmarks share: nearest-rank percentiles, and progress lines on stderr (so the
JSON on stdout stays the last line; ``quiet()`` silences them for ``--json-only``)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

_quiet = False


def quiet(on: bool = True) -> None:
    global _quiet
    _quiet = on


def log(message: str) -> None:
    if not _quiet:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextmanager
def stage(what: str) -> Iterator[None]:
    start = time.perf_counter()
    log(f"{what} ...")
    yield
    log(f"{what}: {time.perf_counter() - start:.1f}s")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
