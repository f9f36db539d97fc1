"""Credits in and out: exact conversion to micro-credits, people's input, and the display rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.amounts import (
    MAX_AMOUNT,
    MICROS_PER_CREDIT,
    check_amount,
    credits,
    credits_text,
    format_credits,
    parse_credits,
    request_identity,
)
from ledger.errors import InvalidAmount


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (0, 0),
        (1, 1_000_000),
        (5_000, 5_000_000_000),
        (-3, -3_000_000),
        ("0.234", 234_000),
        ("0.000001", 1),
        (" 12.5 ", 12_500_000),
        ("-1.5", -1_500_000),
        ("1e3", 1_000_000_000),
        (Decimal("0.15"), 150_000),
        (Decimal("49999.77"), 49_999_770_000),
        (Decimal("2.500000"), 2_500_000),
        ("-0", 0),
        ("0E-12", 0),
        ("0E-999999999", 0),
        ("1.5000000000", 1_500_000),  # trailing zeros are not decimals that matter
        ("1234567890123456789012.000001", 1_234_567_890_123_456_789_012_000_001),
    ],
)
def test_credits_converts_exactly(value: int | str | Decimal, micros: int) -> None:
    assert credits(value) == micros
    assert isinstance(credits(value), int)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0.0000001", "more than 6 decimals"),
        (Decimal("1.2345678"), "more than 6 decimals"),
        (0.5, "never float"),
        (True, "never bool"),
        (None, "never NoneType"),
        ("abc", "not a number of credits"),
        ("NaN", "not a number of credits"),
        ("Infinity", "not a number of credits"),
        ("", "not a number of credits"),
        ("1e999999", "far too large"),
        ("1e-999999999", "more than 6 decimals"),
        # 29 significant digits: still exact (Decimal alone would round to 28 and accept it).
        ("1234567890123456789012.0000001", "more than 6 decimals"),
    ],
)
def test_credits_refuses_what_is_not_exact(value: Any, words: str) -> None:
    with pytest.raises(InvalidAmount, match=words):
        credits(value)


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "0"),
        (1, "0.000001"),
        (12, "0.000012"),
        (1_200, "0.0012"),
        (1_234, "0.00123"),
        (1_235, "0.00124"),  # half up
        (234_000, "0.234"),
        (234_567, "0.235"),
        (100_000, "0.1"),
        (999_999, "1"),  # three significant digits round up to a whole credit
        (1_000_000, "1"),
        (1_004_999, "1"),
        (1_005_000, "1.01"),
        (1_500_000, "1.5"),
        (12_345_678, "12.35"),
        (1_000_000_000, "1,000"),
        (5_000_000_000, "5,000"),
        (49_999_765_432, "49,999.77"),
        (49_999_999_999, "50,000"),
        (1_234_567_890_000_000, "1,234,567,890"),
        (-234_000, "-0.234"),
        (-1_500_000_000, "-1,500"),
        (-1, "-0.000001"),
    ],
)
def test_format_credits_shows_the_decimals_that_matter(micros: int, shown: str) -> None:
    assert format_credits(micros) == shown


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "0"),
        (49_999_765_432, "49,999.765432"),
        (1_000_000_001, "1,000.000001"),
        (5_000_000_000, "5,000"),
        (-234_000, "-0.234"),
    ],
)
def test_exact_format_shows_every_decimal(micros: int, shown: str) -> None:
    assert format_credits(micros, exact=True) == shown


@given(st.integers(-(10**18), 10**18).filter(bool))
def test_a_non_zero_amount_never_shows_as_zero(micros: int) -> None:
    shown = format_credits(micros)
    assert shown.strip("-0.,") != ""
    assert shown.startswith("-") == (micros < 0)


@given(st.integers(-(10**18), 10**18))
def test_exact_format_parses_back_to_the_same_amount(micros: int) -> None:
    assert parse_credits(format_credits(micros, exact=True)) == micros


@given(st.integers(1, 10**18))
def test_shown_amounts_are_close(micros: int) -> None:
    """Below a credit: within half a unit of the third significant digit; above: a cent."""
    shown = credits(format_credits(micros).replace(",", ""))
    if micros >= MICROS_PER_CREDIT:
        assert abs(shown - micros) <= 5_000
    else:
        assert abs(shown - micros) * 200 <= micros


def test_credits_text_names_the_unit() -> None:
    assert credits_text(credits(1)) == "1 credit"
    assert credits_text(credits("0.234")) == "0.234 credits"
    assert credits_text(credits("49999.77")) == "49,999.77 credits"
    assert credits_text(0) == "0 credits"
    assert credits_text(1_000_001) == "1 credit"  # as shown
    assert credits_text(1_000_001, exact=True) == "1.000001 credits"


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("5", 5_000_000),
        ("0.25", 250_000),
        (".5", 500_000),
        ("5.", 5_000_000),
        ("1,000.5", 1_000_500_000),
        ("1,234,567", 1_234_567_000_000),
        ("49_999.77", 49_999_770_000),
        ("  12 credits ", 12_000_000),
        ("1 credit", 1_000_000),
        ("0.000001", 1),
        ("-3", -3_000_000),
        ("+3", 3_000_000),
        ("0", 0),
    ],
)
def test_parse_credits_reads_what_people_type(text: str, micros: int) -> None:
    assert parse_credits(text) == micros


@pytest.mark.parametrize(
    "text",
    ["", " ", "abc", "1.2.3", "1,00", "12,34.5", "0.0000001", "5 dollars", "1e3", "NaN", "--1"],
)
def test_parse_credits_has_one_clear_message(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_credits(text)
    assert "is not an amount of credits: write a number such as 5, 0.25 or 1,000.5" in str(
        caught.value
    )
    assert "at most 6 decimals" in str(caught.value)


def test_check_amount_bounds_and_messages_in_credits() -> None:
    assert check_amount(1) == 1
    assert check_amount(MAX_AMOUNT) == MAX_AMOUNT
    with pytest.raises(InvalidAmount, match=r"between 0.000001 and 1,000,000,000 credits, got 0"):
        check_amount(0)
    with pytest.raises(InvalidAmount, match="whole number of micro-credits"):
        check_amount(1.0)
    assert check_amount(0, allow_zero=True) == 0
    # Sums of many maximal amounts still fit a BIGINT.
    assert MAX_AMOUNT * 9_000 < 2**63


def test_request_identity_keeps_whole_credits_as_before() -> None:
    assert request_identity(credits(5_000)) == 5_000
    assert request_identity(credits(-50)) == -50
    assert request_identity(credits("0.234")) == "0.234"
    assert request_identity(credits("2.5")) == "2.5"
    assert request_identity(1) == "0.000001"
    assert request_identity(credits("-0.5")) == "-0.5"


@given(st.integers(-(10**18), 10**18))
def test_request_identity_is_the_amount_in_credits_exactly(micros: int) -> None:
    identity = request_identity(micros)
    assert credits(identity) == micros  # one amount, one identity: no two requests collide
    assert isinstance(identity, int) == (micros % MICROS_PER_CREDIT == 0)
