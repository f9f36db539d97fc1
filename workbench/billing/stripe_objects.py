"""Reading Stripe objects as the webhook and the API hand them over: plain dicts (``to_dict()``;
SDK objects are not dicts), nested, with fields that may be missing, null or expandable."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def dig(obj: object, *path: str | int) -> Any:
    """``obj[path[0]][path[1]]…``, or None where any step is missing (a list index included)."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or not -len(obj) <= step < len(obj):
                return None
            obj = obj[step]
        elif isinstance(obj, Mapping):
            obj = obj.get(step)
        else:
            return None
    return obj


def text(obj: object, *path: str | int) -> str | None:
    """A string field, or the ``id`` of an expanded object in its place."""
    value = dig(obj, *path)
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def whole(obj: object, *path: str | int) -> int | None:
    value = dig(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def when(obj: object, *path: str | int) -> datetime | None:
    """A Stripe timestamp (seconds since the epoch) as a UTC datetime."""
    seconds = whole(obj, *path)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def positive_id(metadata: object, key: str) -> int | None:
    """An id we put in ``metadata`` (Stripe keeps metadata values as strings)."""
    value = dig(metadata, key)
    if isinstance(value, str) and value.isdigit() and 0 < int(value) < 2**63:
        return int(value)
    return None
