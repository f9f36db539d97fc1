"""What the gateway reads from the database and keeps for a few seconds: current prices (price
versions, which never change, for good) and the model and feature switches. Each cache runs on an
injectable monotonic clock, so tests move time instead of sleeping, and every app process honours
an operator's change within ``PRICE_CACHE_S``/``SWITCH_CACHE_S``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ledger.pricing import Price
from ledger.service import Ledger
from ledger.switches import Switches
from workbench.gateway.catalogue import Catalogue

PRICE_CACHE_S = 5.0
SWITCH_CACHE_S = 5.0

Monotonic = Callable[[], float]


@dataclass
class PriceCache:
    """Current prices, briefly cached; price versions (immutable) cached for good."""

    ledger: Ledger
    clock: Monotonic = time.monotonic
    _current: dict[str, tuple[float, Price]] = field(default_factory=dict)
    _versions: dict[int, Price] = field(default_factory=dict)

    def current(self, model: str) -> Price:
        cached = self._current.get(model)
        if cached is not None and self.clock() - cached[0] < PRICE_CACHE_S:
            return cached[1]
        read_at = self.clock()
        price = self.ledger.price(model)
        self._current[model] = (read_at, price)
        if price.version_id is not None:
            self._versions[price.version_id] = price
        return price

    def version(self, version_id: int) -> Price:
        price = self._versions.get(version_id)
        if price is None:
            price = self._versions[version_id] = self.ledger.price_version(version_id)
        return price


@dataclass(frozen=True)
class SwitchState:
    read_at: float
    switches: Switches
    catalogue: Catalogue


class SwitchCache:
    """Model and feature switches from the database, read at most once per ``SWITCH_CACHE_S``
    (one query for all of them), with the allowlist's enabled flags overlaid: a model with a
    switch is as its switch says, one without is as ``models.toml`` lists it.

    Thread-safe without a lock: the state is replaced whole, so a reader sees an old or a new
    state, never half of one (two threads may both refresh at the boundary; both are right).
    """

    def __init__(self, ledger: Ledger, catalogue: Catalogue, clock: Monotonic) -> None:
        self.ledger = ledger
        self.file_catalogue = catalogue
        self.clock = clock
        self._state: SwitchState | None = None

    def state(self) -> SwitchState:
        state = self._state
        if state is not None and self.clock() - state.read_at < SWITCH_CACHE_S:
            return state
        read_at = self.clock()  # before the read: the cached state is never older than it says
        switches = self.ledger.switches()
        state = SwitchState(read_at, switches, self._overlay(switches))
        self._state = state
        return state

    def _overlay(self, switches: Switches) -> Catalogue:
        entries = tuple(
            entry
            if switches.model_enabled(entry.id, entry.enabled) == entry.enabled
            else entry.model_copy(update={"enabled": not entry.enabled})
            for entry in self.file_catalogue.entries
        )
        return replace(self.file_catalogue, entries=entries)
