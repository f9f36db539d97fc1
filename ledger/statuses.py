"""The closed sets of words the ledger stores, as ``StrEnum``s: the schema's CHECK constraints are
built from them, and the gateway and pages compare against them instead of spelling strings.

A member *is* its string (``UsageStatus.OK == "ok"``), so rows read back as plain text compare
equal, and values written through these enums are the same text the constraints allow.
"""

from __future__ import annotations

from enum import StrEnum


class HoldStatus(StrEnum):
    """Where a hold is in its life: pending, then exactly one of the other three."""

    PENDING = "pending"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


class UsageStatus(StrEnum):
    """How a provider call (or a refusal before one) ended, as its usage row says."""

    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    REFUSED = "refused"


class ProviderOutcome(StrEnum):
    """How a failed provider call failed: an error (nothing used) or a timeout (outcome unknown).
    The same words as the usage statuses they become."""

    ERROR = UsageStatus.ERROR.value
    TIMEOUT = UsageStatus.TIMEOUT.value
