"""When a provider call is tried again, and how long it waits first: the same for every provider.

litellm's own retries could not be trusted with this: for Anthropic it replaced the configured
backoff with its own loop, which retried 5-20 ms after a 429 that said ``Retry-After: 0.3``. So
the gateway turns litellm's (and the OpenAI SDK's) retries off and runs this loop around each
request instead:

- at most ``1 + retries`` attempts, all carrying the same hold id;
- only for failures worth another attempt (the provider decides: see ``worth_retrying`` in the
  litellm provider: 408, 409, 429, 5xx, timeouts waiting for an answer, a dropped connection);
- waiting what the provider asked (``Retry-After`` in seconds or as an HTTP date, or
  ``retry-after-ms``), else ``BACKOFF_FIRST_S * 2**n`` plus up to a quarter more (jitter, so
  callers turned away together do not come back together);
- never longer than ``RETRY_WAIT_CAP_S``, the time per retry the hold's TTL is built with
  (``Timing.deadline``): a provider that asks for more is not waited for, and the call fails with
  its error now rather than finish after its hold could have expired.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

log = logging.getLogger("workbench.gateway")

RETRY_WAIT_CAP_S = 10.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0  # with its jitter, still within RETRY_WAIT_CAP_S
BACKOFF_JITTER = 0.25

T = TypeVar("T")


def retry_after_s(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the provider asked to wait (its headers, any case), or None if it did not say.
    A date in the past is no wait at all."""
    lower = {name.lower(): value for name, value in headers.items()}
    millis = lower.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    told = lower.get("retry-after")
    if told is None:
        return None
    try:
        return max(float(told), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(told)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def backoff_floor_s(retry: int) -> float:
    """The least wait before retry number ``retry`` (0 for the first) when the provider did not
    say: 0.5 s, 1 s, 2 s, … at most ``BACKOFF_MAX_S``."""
    return min(BACKOFF_FIRST_S * float(2**retry), BACKOFF_MAX_S)


def wait_before(retry: int, told: float | None) -> float:
    if told is not None:
        return told
    return backoff_floor_s(retry) * (1 + BACKOFF_JITTER * random.random())


def with_retries(
    attempt: Callable[[], T],
    *,
    retries: int,
    worth_retrying: Callable[[BaseException], bool],
    told: Callable[[BaseException], float | None],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()``, tried again up to ``retries`` times when it fails with an error worth
    another attempt, each time after the wait described above. The last error is raised as is."""
    retry = 0
    while True:
        try:
            return attempt()
        except Exception as error:
            if retry >= retries or not worth_retrying(error):
                raise
            wait = wait_before(retry, told(error))
            if wait > RETRY_WAIT_CAP_S:
                log.warning(
                    "provider asked to wait %.1f s before retrying (%s): more than the %.0f s a "
                    "retry may take, not retried",
                    wait,
                    type(error).__name__,
                    RETRY_WAIT_CAP_S,
                )
                raise
            log.info(
                "retry %d/%d in %.2f s after %s", retry + 1, retries, wait, type(error).__name__
            )
            sleep(wait)
            retry += 1
