"""After a chat reply or an image is charged: look at the workspace's auto top-up in the
background, never on the page's thread (buying a pack is a Stripe request of a second or more).

One worker for the process: top-ups are rare and each workspace allows one in flight anyway
(``workbench.billing.auto_top_up``). A workspace already queued is not queued again, so a burst
of charges costs one look; its flag is dropped as the look starts, so a charge made during the
look queues the next one.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from workbench.billing.auto_top_up import Attempt
from workbench.billing.service import Billing

log = logging.getLogger("workbench.billing")

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auto-top-up")
_queued: set[int] = set()
_lock = threading.Lock()


def top_up_soon(billing: Billing, workspace_id: int) -> Future[Attempt | None] | None:
    """Queue a look at ``workspace_id``'s auto top-up; returns at once (the future is for tests;
    None when nothing was queued: purchases not configured, or a look already queued)."""
    if not billing.configured:
        return None
    with _lock:
        if workspace_id in _queued:
            return None
        _queued.add(workspace_id)
    try:
        return _POOL.submit(_look, billing, workspace_id)
    except RuntimeError:  # the interpreter is shutting down: no new threads
        with _lock:
            _queued.discard(workspace_id)
        return None


def _look(billing: Billing, workspace_id: int) -> Attempt | None:
    with _lock:
        _queued.discard(workspace_id)
    try:
        # Reads first, and claims (a write) only when the workspace is below its threshold.
        attempt = billing.top_up_if_due(workspace_id)
    except Exception:
        # Nobody waits on this thread: the log is the only place a failure can go.
        log.exception("auto top-up of workspace %s could not be checked", workspace_id)
        return None
    if attempt is not None:
        log.info("auto top-up of workspace %s: %s", workspace_id, attempt.status)
    return attempt
