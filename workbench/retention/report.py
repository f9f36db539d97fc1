"""A purge run as people read it: one line per kind (its setting, its cut-off in UTC and what was
found or removed), a line per batch, and the closing line."""

from __future__ import annotations

from datetime import datetime

from workbench.retention.conversations import ConversationCounts
from workbench.retention.images import ImageCounts
from workbench.retention.policy import VARIABLES
from workbench.retention.purge import Counts, Found, PurgeReport
from workbench.retention.usage import UsageCounts

NEVER_PURGED = "Journal entries and audit events are never purged."


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def describe(kind: str, counts: Counts) -> str:
    """What ``counts`` are, in words (without a verb)."""
    if isinstance(counts, ConversationCounts):
        files = _plural(counts.attachments, "attached file")
        return (
            f"{_plural(counts.conversations, 'conversation')} with "
            f"{_plural(counts.messages, 'message')} and {files} "
            f"({_plural(counts.attachment_bytes, 'byte')})"
        )
    if isinstance(counts, ImageCounts):
        files = _plural(counts.files, "image file")
        return (
            f"the images of {_plural(counts.calls, 'call')}: {files}, "
            f"{_plural(counts.bytes, 'byte')} on disk"
        )
    assert isinstance(counts, UsageCounts)
    text = f"{_plural(counts.rows, 'raw usage row')}, kept as daily totals"
    if counts.kept_for_images:
        text += (
            f" ({_plural(counts.kept_for_images, 'row')} of calls whose images are still stored"
            " stay)"
        )
    return text


def _kinds(found: Found) -> list[tuple[str, Counts | None]]:
    return [
        ("conversations", found.conversations),
        ("images", found.images),
        ("usage", found.usage),
    ]


def found_lines(report: PurgeReport) -> list[str]:
    """The run's heading and, per kind, its setting, cut-off and what was found."""
    verb = "would remove" if report.dry_run else "found to remove"
    heading = (
        f"purge --dry-run at {_when(report.now)}: nothing is removed."
        if report.dry_run
        else f"purge at {_when(report.now)}:"
    )
    lines = [heading]
    for kind, counts in _kinds(report.found):
        days = report.policy.days(kind)
        cutoff = getattr(report.cutoffs, kind)
        if days is None or cutoff is None or counts is None:
            lines.append(f"{kind}: kept forever ({VARIABLES[kind]} is not set)")
        else:
            lines.append(
                f"{kind}, kept {_plural(days, 'day')}, cut-off {_when(cutoff)}: "
                f"{verb} {describe(kind, counts)}"
            )
    return lines


def batch_line(kind: str, counts: Counts) -> str:
    return f"{kind}: removed {describe(kind, counts)}"


def closing_lines(report: PurgeReport) -> list[str]:
    """After the run: what it removed (or why it did nothing), and what is never purged."""
    if report.busy:
        return ["Another purge is running on this database: nothing done."]
    if report.dry_run:
        return [NEVER_PURGED]
    if not report.found.anything:
        return ["Nothing to remove.", NEVER_PURGED]
    lines = [
        f"{kind}: removed in all {describe(kind, counts)}"
        for kind, counts in _kinds(report.removed)
        if counts is not None
    ]
    return [*lines, NEVER_PURGED]
