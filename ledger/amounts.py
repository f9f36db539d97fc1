"""Credit amounts: plain Python ints within a bound that keeps every sum inside a 64-bit column."""

from __future__ import annotations

from ledger.errors import InvalidAmount

# One trillion credits: far above any real balance, and a million of them still fit in BIGINT.
MAX_AMOUNT = 10**12


def check_amount(value: object, what: str = "amount", *, allow_zero: bool = False) -> int:
    # bool is an int subclass; True credits is a bug, not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAmount(
            f"{what} must be a whole number of credits, got {value!r:.40}", value=repr(value)
        )
    low = 0 if allow_zero else 1
    if value < low or value > MAX_AMOUNT:
        raise InvalidAmount(
            f"{what} must be between {low} and {MAX_AMOUNT:,} credits, got {value:,}",
            value=value,
        )
    return value
