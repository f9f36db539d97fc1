"""The gateway's background sweep: overdue holds expired now and then, as calls come in, so a
crashed call's credits come back without a separate sweeper process."""

from __future__ import annotations

import logging
import threading
import time

from ledger.service import Ledger

log = logging.getLogger("workbench.gateway")

SWEEP_EVERY_S = 60.0


class BackgroundSweep:
    """At most one sweep per ``every_s`` in this process, and never two at once."""

    def __init__(self, ledger: Ledger, every_s: float = SWEEP_EVERY_S) -> None:
        self.ledger = ledger
        self.every_s = every_s
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def maybe(self) -> None:
        """Sweep if one is due; cheap when nothing is. Never raises: a call must not fail because
        the sweep did (the next one retries)."""
        if time.monotonic() - self._last < self.every_s:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._last = time.monotonic()
            self.ledger.sweep()
        except Exception:
            log.exception("background hold sweep failed (the next one will retry)")
        finally:
            self._lock.release()
