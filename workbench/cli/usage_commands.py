"""``workbench usage …``: usage records; ``seed`` fills a database with synthetic calls, ``sync``
brings this machine's analytics mirror up to date."""

from __future__ import annotations

import random
import sys
import time
from typing import Any

import click

from ledger.amounts import format_credits
from ledger.service import Ledger
from ledger.statuses import UsageStatus
from workbench.analytics import dashboard, mirror, synthetic, synthetic_writer
from workbench.analytics.errors import AnalyticsError
from workbench.cli.common import WholeNumber, fail, with_ledger
from workbench.config import Settings
from workbench.gateway import catalogue as model_catalogue
from workbench.gateway.errors import GatewayError


class AtMost(WholeNumber):
    """A whole number greater than zero and at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        number = super().convert(value, param, ctx)
        if number > self.limit:
            self.fail(f"{value!r} is more than {self.limit:,}", param, ctx)
        return number


@click.group("usage")
def group() -> None:
    """Usage records: synthetic calls for trying the analytics; the analytics mirror."""


@group.command()
def sync() -> None:
    """Copy new usage rows into this machine's analytics mirror (WORKBENCH_ANALYTICS_MIRROR, or
    beside the image folder), as the Usage page does on each run: run it when a replica starts,
    so the first visit to Usage analytics does not wait for a whole mirror to be filled."""

    def work(book: Ledger, config: Settings) -> None:
        path = dashboard.mirror_path(config)
        try:
            report = mirror.sync(book.engine, path)
        except AnalyticsError as error:
            raise fail(str(error)) from None
        print(
            f"usage sync: {report.rows_added:,} new rows copied into {path} "
            f"(up to usage row {report.watermark:,}) in {report.seconds:.1f} s"
        )

    with_ledger(work)


@group.command()
@click.option(
    "--events",
    type=AtMost(synthetic.MAX_EVENTS),
    required=True,
    help="Calls to write (each one usage row), at most 50,000,000.",
)
@click.option(
    "--days",
    type=AtMost(synthetic.MAX_DAYS),
    default=90,
    show_default=True,
    help="Spread the calls over this many days, ending now.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Random seed: the same seed and options write the same calls (a re-run adds nothing).",
)
@click.option("--workspaces", type=AtMost(1000), default=4, show_default=True, help="Workspaces.")
@click.option("--users", type=AtMost(100_000), default=40, show_default=True, help="Users.")
def seed(events: int, days: int, seed: int, workspaces: int, users: int) -> None:
    """Write synthetic usage through the ledger, as the gateway would: workspaces synth-ws-N and
    users synth-user-NN (created if missing, topped up with promo credits), a skewed mix of the
    priced models, errors, timeouts, stops and a few refusals, busier on weekday working hours."""
    if users < workspaces:
        raise click.BadParameter(
            f"{users} users cannot fill {workspaces} workspaces", param_hint="'--users'"
        )

    def work(book: Ledger, config: Settings) -> None:
        members = synthetic.organisation(workspaces, users)
        models = synthetic.models_from_prices(book.priced_models(), providers(config))
        plan = synthetic.Plan(events, days, seed, members, models, synthetic.default_end())
        calls = synthetic.plan_calls(plan, random.Random(seed))
        started = time.monotonic()
        with click.progressbar(length=events, label="usage seed", file=sys.stderr) as bar:
            report = synthetic_writer.write(book, plan, calls, progress=bar.update)
        elapsed = time.monotonic() - started
        print(summary(report, plan, elapsed))

    with_ledger(work)


def providers(config: Settings) -> dict[str, str]:
    """Each priced model's provider, from the model catalogue (none: named by the price)."""
    try:
        entries = model_catalogue.load(config.model_catalogue).entries
    except GatewayError:
        return {}
    return {entry.price or entry.id: entry.provider for entry in entries}


def summary(report: synthetic_writer.SeedReport, plan: synthetic.Plan, elapsed: float) -> str:
    where = f"{report.workspaces} workspaces and {report.users} users over {plan.days} days"
    if report.written == 0 and report.already:
        return (
            f"usage seed: nothing new: all {report.already:,} events were already written by an "
            f"earlier run with seed {plan.seed} ({where})"
        )
    counts = ", ".join(
        f"{report.by_status.get(status, 0):,} {status}"
        for status in (
            UsageStatus.OK,
            UsageStatus.CANCELLED,
            UsageStatus.ERROR,
            UsageStatus.TIMEOUT,
            UsageStatus.REFUSED,
        )
    )
    rate = report.events / elapsed if elapsed > 0 else 0.0
    extra = f"; {report.already:,} already there" if report.already else ""
    extra += f"; {report.skipped:,} skipped" if report.skipped else ""
    return (
        f"usage seed: wrote {report.written:,} events ({counts}) for {where}; "
        f"{format_credits(report.captured)} credits captured{extra} "
        f"({rate:,.0f} events/s)"
    )
