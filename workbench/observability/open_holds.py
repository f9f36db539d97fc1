"""The holds open right now, read from the database each time ``/metrics`` is scraped.

A gauge kept in memory would only know this process's calls; the database knows every
replica's, and a hold a crashed process left behind until the sweeper expires it. One grouped
query over the pending holds (the sweeper's partial index holds just those). If the database
cannot be read, the scrape still answers: ``workbench_database_up`` is 0 and the hold figures are
left out rather than reported as zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger import db
from ledger.schema import holds
from ledger.statuses import HoldStatus
from workbench.observability.metrics import label

log = logging.getLogger("workbench.observability")


class OpenHolds(Collector):
    """``workbench_holds_open`` and ``workbench_holds_open_micros`` by model and feature, and
    ``workbench_database_up``. ``engine`` is asked for at each scrape (the app's shared one)."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "workbench_database_up", "1 when the scrape could read the ledger database, else 0."
        )
        try:
            rows = _open_holds(self._engine())
        except SQLAlchemyError as error:
            log.warning("metrics: could not read the open holds (%s)", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        count = GaugeMetricFamily(
            "workbench_holds_open",
            "Holds still pending in the database (every replica's), by model and feature.",
            labels=["model", "feature"],
        )
        amount = GaugeMetricFamily(
            "workbench_holds_open_micros",
            "Micro-credits reserved by the pending holds, by model and feature.",
            labels=["model", "feature"],
        )
        # Summed by label: two odd names both shown as ``other`` must still be one series.
        series: dict[tuple[str, str], tuple[int, int]] = {}
        for model, feature, number, total in rows:
            key = (label(model), label(feature))
            before = series.get(key, (0, 0))
            series[key] = (before[0] + number, before[1] + total)
        for (model, feature), (number, total) in sorted(series.items()):
            count.add_metric([model, feature], number)
            amount.add_metric([model, feature], total)
        yield up
        yield count
        yield amount


def _open_holds(engine: Engine) -> list[tuple[str, str, int, int]]:
    query = (
        sa.select(
            holds.c.model,
            holds.c.feature_key,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(holds.c.amount), 0),
        )
        .where(holds.c.status == HoldStatus.PENDING.value)
        .group_by(holds.c.model, holds.c.feature_key)
    )
    with db.read_only_connection(engine) as conn:
        return [(str(m), str(f), int(n), int(t)) for m, f, n, t in conn.execute(query)]
