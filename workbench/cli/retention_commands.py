"""``workbench purge``: remove what the retention settings say is too old (``--dry-run``: only say
what that would be). Meant for a daily cron entry; on every replica is fine (one runs, the others
say another purge is running)."""

from __future__ import annotations

import click
from pydantic import ValidationError

from ledger.service import Ledger
from workbench.cli.common import configured, fail, first_line, with_ledger
from workbench.cli.usage_commands import AtMost
from workbench.config import Settings
from workbench.retention import report
from workbench.retention.policy import Policy, RetentionError, settings_error
from workbench.retention.purge import MAX_BATCH, Counts, PurgeReport, run


def _say(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


def _policy() -> Policy:
    """The retention settings, or one clear line and exit status 2 (before anything is opened)."""
    try:
        return Policy.of(configured())
    except ValidationError as error:
        problem = settings_error(error)
        raise fail(problem.message if problem else first_line(error)) from None
    except RetentionError as error:
        raise fail(error.message) from None


@click.command("purge")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what would be removed (per kind: the cut-off in UTC, counts, bytes) and remove "
    "nothing.",
)
@click.option(
    "--batch-size",
    type=AtMost(MAX_BATCH),
    default=1000,
    show_default=True,
    help="Conversations, image folders or usage rows per batch (each batch one transaction).",
)
def purge(dry_run: bool, batch_size: int) -> None:
    """Remove what is older than the retention settings: conversations
    (WORKBENCH_RETENTION_CONVERSATION_DAYS), stored images (WORKBENCH_RETENTION_IMAGE_DAYS) and raw
    usage rows (WORKBENCH_RETENTION_USAGE_DAYS; their daily totals stay, so analytics over whole
    days do not change). Journal entries and audit events are never purged."""
    policy = _policy()
    if policy.keeps_everything:
        click.echo(
            "Nothing to purge: no retention is set (WORKBENCH_RETENTION_CONVERSATION_DAYS, "
            "_IMAGE_DAYS, _USAGE_DAYS), so everything is kept."
        )
        return

    def progress(kind: str, counts: Counts) -> None:
        click.echo(report.batch_line(kind, counts))

    def found(done: PurgeReport) -> None:
        _say(report.found_lines(done))

    def work(book: Ledger, config: Settings) -> PurgeReport:
        return run(
            book.engine,
            config.image_dir,
            policy,
            book.now(),
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress,
            on_found=found,
        )

    try:
        done = with_ledger(work)
    except RetentionError as error:
        raise fail(error.message) from None
    _say(report.closing_lines(done))
