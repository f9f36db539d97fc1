"""Credit amounts: integers of micro-credits, converted to and from the credits people see.

A credit is US$0.001 at list price. The ledger keeps every amount as a Python ``int`` of
**micro-credits** (1 credit = 1,000,000), fine enough that rounding a call's price up to the unit
overcharges it by less than a millionth of a credit. People never see that unit: ``credits`` and
``parse_credits`` turn what they write into micro-credits exactly, ``format_credits`` shows an
amount with the decimals that matter ("0.234", "49,999.77", "5,000"). No float is ever involved.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ledger.errors import InvalidAmount

MICROS_PER_CREDIT = 1_000_000
DECIMALS = 6  # a micro-credit is 0.000001 credit

# One amount is at most a billion credits (US$1 million at list price), 10¹⁵ micro-credits: a
# BIGINT column holds 9.2 * 10¹⁸ (US$9.2 billion of credits), so sums of any real ledger fit.
MAX_AMOUNT = 10**9 * MICROS_PER_CREDIT
# credits("1e999999") would build a number of a million digits; anything past 10**40 is refused.
_LARGEST_SHIFT = 40

# What a person may type: digits with optional thousands separators (commas or underscores)
# and at most one decimal point, an optional sign, and the word "credit(s)" after it.
_TYPED = re.compile(
    r"\s*(?P<sign>[+-]?)\s*(?P<number>(?:\d{1,3}(?:[,_]\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
    r"\s*(?:credits?)?\s*",
    re.IGNORECASE,
)


def check_amount(value: object, what: str = "amount", *, allow_zero: bool = False) -> int:
    """``value`` if it is an int of micro-credits in range (at least one, or zero if allowed)."""
    # bool is an int subclass; True credits is a bug, not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAmount(
            f"{what} must be a whole number of micro-credits (see ledger.amounts.credits), "
            f"got {value!r:.40}"
        )
    low = 0 if allow_zero else 1
    if value < low or value > MAX_AMOUNT:
        raise InvalidAmount(
            f"{what} must be between {format_credits(low)} and {format_credits(MAX_AMOUNT)} "
            f"credits, got {format_credits(value)}"
        )
    return value


def check_count(value: object, what: str, *, allow_zero: bool = False) -> int:
    """A count (tokens, images, replies): a whole number, at least one or zero if allowed."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAmount(f"{what} must be a whole number, got {value!r:.40}")
    low = 0 if allow_zero else 1
    if value < low or value > MAX_AMOUNT:
        raise InvalidAmount(f"{what} must be between {low:,} and {MAX_AMOUNT:,}, got {value:,}")
    return value


def credits(value: int | str | Decimal) -> int:
    """Micro-credits for an amount in credits, exactly: ``credits(5) == 5_000_000``,
    ``credits("0.234") == 234_000``, ``credits(Decimal("-1.5")) == -1_500_000``.

    Refuses more than six decimals (less than a micro-credit), floats (``0.1`` is not a tenth)
    and bools. Range checks are the caller's (``check_amount``).
    """
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidAmount(
            f"credits must be given as an int, a decimal string or a Decimal, never "
            f"{type(value).__name__} ({value!r:.40})"
        )
    if isinstance(value, int):
        return value * MICROS_PER_CREDIT
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else value
    except InvalidOperation:
        raise InvalidAmount(f"{value!r:.40} is not a number of credits") from None
    if not number.is_finite():
        raise InvalidAmount(f"{value!r:.40} is not a number of credits")
    # With integers only: Decimal arithmetic rounds to its context's precision (28 digits).
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    coefficient = int("".join(map(str, digits)))
    shift = exponent + DECIMALS
    if shift > _LARGEST_SHIFT:
        raise InvalidAmount(f"{value!s:.40} credits is far too large")
    micros: int
    if shift >= 0 or coefficient == 0:
        micros = coefficient * 10 ** max(shift, 0)
    else:
        # More places after the point than the coefficient has digits: a remainder for sure.
        divisor: int = 10 ** min(-shift, len(digits) + 1)
        micros, rest = divmod(coefficient, divisor)
        if rest or -shift > len(digits):
            raise InvalidAmount(
                f"{value!s:.40} credits has more than {DECIMALS} decimals: the smallest amount "
                "is 0.000001 credit"
            )
    return -micros if sign else micros


def parse_credits(text: str) -> int:
    """Micro-credits for what a person typed ("5", "0.25", "1,000.5", "49_999.77 credits").

    One error message for anything else, saying what would be accepted.
    """
    match = _TYPED.fullmatch(text) if isinstance(text, str) else None
    if match is not None:
        number = match["number"].replace(",", "").replace("_", "")
        try:
            return credits(f"{match['sign']}{number}")
        except InvalidAmount:
            pass  # more than six decimals: the same sentence as any other bad input
    raise InvalidAmount(
        f"{str(text)[:40]!r} is not an amount of credits: write a number such as 5, 0.25 or "
        f"1,000.5 (at most {DECIMALS} decimals)"
    )


def format_credits(micros: int, *, exact: bool = False) -> str:
    """An amount of micro-credits as people read it, in credits.

    - 1 credit or more: thousands separators and at most two decimals, trailing zeros dropped
      ("49,999.77", "5,000", "1.5");
    - less than 1 credit: enough decimals for three significant digits ("0.234", "0.0012",
      "0.000001");
    - exactly zero: "0". A non-zero amount never shows as "0". Negative amounts get a "-".

    Rounding is half up, on the shown digits only. ``exact`` shows every decimal that is not
    zero instead ("49,999.765432"): for refusals and checks, where two amounts that differ must
    not read the same.
    """
    if isinstance(micros, bool) or not isinstance(micros, int):
        raise InvalidAmount(f"not an amount of micro-credits: {micros!r:.40}")
    if micros == 0:
        return "0"
    sign = "-" if micros < 0 else ""
    amount = Decimal(abs(micros)).scaleb(-DECIMALS)
    if exact:
        decimals = DECIMALS
    elif abs(micros) >= MICROS_PER_CREDIT:
        decimals = 2
    else:
        # adjusted() is the exponent of the leading digit: -1 for 0.234, -3 for 0.0012.
        decimals = min(DECIMALS, 2 - amount.adjusted())
    shown = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{shown:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return sign + text


def credits_text(micros: int, *, exact: bool = False) -> str:
    """``format_credits`` with its unit: "1 credit", "0.234 credits", "49,999.77 credits"."""
    shown = format_credits(micros, exact=exact)
    return f"{shown} credit{'' if shown == '1' else 's'}"


def request_identity(micros: int) -> int | str:
    """An amount as it enters a request's idempotency hash: in credits, a whole number as the
    int it was before amounts became micro-credits (so a key stored by an older version still
    matches the same request), any other amount as its exact decimal string."""
    whole, rest = divmod(abs(micros), MICROS_PER_CREDIT)
    if rest == 0:
        return -whole if micros < 0 else whole
    # Plain int formatting (this runs on every reserve and capture): "0.234", "-1.5".
    return f"{'-' if micros < 0 else ''}{whole}.{rest:06d}".rstrip("0")
