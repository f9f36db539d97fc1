"""How long each kind of content is kept (``WORKBENCH_RETENTION_*_DAYS``) and the cut-off each
gives on a given day.

A kind with no number of days is kept forever. A cut-off is a UTC midnight: what is older than the
start of the UTC day ``days`` days ago goes, so at least ``days`` whole days are always kept, the
same content goes whichever hour the purge runs, and usage rows go by whole UTC days (the unit of
the analytics rollup their sums are kept in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final

from pydantic import ValidationError

from workbench.config import Settings

MAX_DAYS: Final = 36_500
# The settings, as people set them (the environment), by the kind they keep.
VARIABLES: Final = {
    "conversations": "WORKBENCH_RETENTION_CONVERSATION_DAYS",
    "images": "WORKBENCH_RETENTION_IMAGE_DAYS",
    "usage": "WORKBENCH_RETENTION_USAGE_DAYS",
}
_FIELDS: Final = {
    "retention_conversation_days": "conversations",
    "retention_image_days": "images",
    "retention_usage_days": "usage",
}


class RetentionError(Exception):
    """A retention setting or purge request refused, with a sentence a person can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_days(kind: str, days: object) -> int | None:
    if days is None:
        return None
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise RetentionError(_bad_days(kind, days))
    return days


def _bad_days(kind: str, value: object) -> str:
    return (
        f"{VARIABLES[kind]} must be a whole number of days from 1 to {MAX_DAYS:,} "
        f"(leave it unset to keep {kind} forever), got {value!r:.40}"
    )


def settings_error(error: ValidationError) -> RetentionError | None:
    """The retention settings' part of a configuration error, as one sentence (None when the
    error is about other settings)."""
    for problem in error.errors():
        kind = _FIELDS.get(str(problem["loc"][0])) if problem["loc"] else None
        if kind is not None:
            return RetentionError(_bad_days(kind, problem.get("input")))
    return None


def midnight_before(now: datetime, days: int) -> datetime:
    """The start (00:00 UTC) of the UTC day ``days`` days before ``now``'s."""
    if now.tzinfo is None:
        raise RetentionError("the purge's time must be timezone-aware (UTC)")
    today = now.astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=days), time(0), tzinfo=UTC)


@dataclass(frozen=True)
class Cutoffs:
    """Per kind, the moment before which content goes (None: kept forever)."""

    conversations: datetime | None
    images: datetime | None
    usage: datetime | None


@dataclass(frozen=True)
class Policy:
    """Days kept per kind; None keeps forever. Checked on construction."""

    conversation_days: int | None = None
    image_days: int | None = None
    usage_days: int | None = None

    def __post_init__(self) -> None:
        _check_days("conversations", self.conversation_days)
        _check_days("images", self.image_days)
        _check_days("usage", self.usage_days)

    @classmethod
    def of(cls, config: Settings) -> Policy:
        return cls(
            config.retention_conversation_days,
            config.retention_image_days,
            config.retention_usage_days,
        )

    @property
    def keeps_everything(self) -> bool:
        return (self.conversation_days, self.image_days, self.usage_days) == (None, None, None)

    def days(self, kind: str) -> int | None:
        return {
            "conversations": self.conversation_days,
            "images": self.image_days,
            "usage": self.usage_days,
        }[kind]

    def cutoffs(self, now: datetime) -> Cutoffs:
        def cut(days: int | None) -> datetime | None:
            return None if days is None else midnight_before(now, days)

        return Cutoffs(cut(self.conversation_days), cut(self.image_days), cut(self.usage_days))
