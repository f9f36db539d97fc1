"""The request id of the call in progress, and the ids that travel with it in every log line.

The gateway makes one request id (uuid4 hex) at the entry of each call (a chat turn, an image
call); its hold id and idempotency key join it once known. They live in a ``ContextVar``, which
``workbench.observability.logs`` adds to every log record, so the hold reserved, the provider
call and the usage row written (and whatever litellm or the ledger log meanwhile) carry the same
ids.

A chat turn is a generator that Streamlit iterates between its own work, so the ids are bound
only around each step of the provider's stream (``stepped``), never across a ``yield``: what the
page logs between two pieces is not the call's, and a generator closed later in another thread
or by the garbage collector never resets a variable it did not set.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class CallIds:
    """Who a log line is about: the call's request id, its idempotency key and its hold."""

    request_id: str
    idempotency_key: str | None = None
    hold_id: int | None = None

    def with_hold(self, hold_id: int) -> CallIds:
        return replace(self, hold_id=hold_id)


_current: ContextVar[CallIds | None] = ContextVar("workbench_call_ids", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current() -> CallIds | None:
    """The ids of the call this code runs for, or None outside any call."""
    return _current.get()


@contextmanager
def bound(ids: CallIds) -> Iterator[CallIds]:
    """Log with ``ids`` until the block ends (blocks may nest: the inner ids win meanwhile)."""
    token = _current.set(ids)
    try:
        yield ids
    finally:
        _current.reset(token)


def stepped(ids: CallIds, stream: Iterator[T]) -> Generator[T, None, None]:
    """``stream``'s items, each one produced with ``ids`` bound and handed on with them unbound.

    Closing this generator does not close ``stream``: its owner does that (under ``bound``)."""
    while True:
        with bound(ids):
            try:
                item = next(stream)
            except StopIteration:
                return
        yield item
