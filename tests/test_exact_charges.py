"""Charges exact to a millionth of a credit (property tests).

- For any token counts and any prices (credits per million tokens, up to six decimals), the charge
  is the exact list price, computed here with ``fractions.Fraction``, rounded up to the next
  micro-credit: never below the list price, and less than one micro-credit above it.
- Through the real gateway (litellm over HTTP to the fake provider, which reports the usage drawn
  here) at drawn prices, each call's usage row holds that charge, and the usage rows' credits sum
  to the journal's captures; the books verify after every run.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.amounts import MICROS_PER_CREDIT, credits
from ledger.pricing import Price, chat_estimate, token_cost
from ledger.schema import entries, usage_records
from tests.fake_providers import ok
from tests.gateway_harness import Harness, HarnessFactory, ask
from workbench.gateway.setup import build_gateway

MODEL = "openai/gpt-4o-mini"

# Prices in credits per million tokens, as a catalogue may write them: whole, or with up to six
# decimals (from a millionth of a credit per million tokens to 100,000 credits).
PRICES = st.integers(0, 100_000).map(Decimal) | st.decimals(
    min_value=0, max_value=100_000, places=6, allow_nan=False, allow_infinity=False
)
TOKENS = st.integers(0, 2_000_000)


def list_price(input_tokens: int, output_tokens: int, p_in: Decimal, p_out: Decimal) -> Fraction:
    """The exact list price in credits: tokens times credits per million tokens."""
    return (input_tokens * Fraction(p_in) + output_tokens * Fraction(p_out)) / 1_000_000


def price(p_in: Decimal, p_out: Decimal, model: str = MODEL) -> Price:
    return Price(
        model, "ai_text_chat", input_per_mtok=credits(p_in), output_per_mtok=credits(p_out)
    )


@given(input_tokens=TOKENS, output_tokens=TOKENS, p_in=PRICES, p_out=PRICES)
def test_the_charge_is_the_list_price_rounded_up_to_a_micro_credit(
    input_tokens: int, output_tokens: int, p_in: Decimal, p_out: Decimal
) -> None:
    charge = token_cost(price(p_in, p_out), input_tokens, output_tokens)
    exact = list_price(input_tokens, output_tokens, p_in, p_out)
    assert isinstance(charge, int)
    assert charge == math.ceil(exact * MICROS_PER_CREDIT)
    overcharge = Fraction(charge, MICROS_PER_CREDIT) - exact
    assert 0 <= overcharge < Fraction(1, MICROS_PER_CREDIT)


@given(prompt=TOKENS, max_tokens=st.integers(1, 100_000), n=st.integers(1, 4), p_in=PRICES)
def test_the_estimate_covers_the_most_the_call_can_cost(
    prompt: int, max_tokens: int, n: int, p_in: Decimal
) -> None:
    p_out = p_in * 4
    estimate = chat_estimate(price(p_in, p_out), prompt, max_tokens, n)
    exact = list_price(prompt, max_tokens * n, p_in, p_out)
    assert estimate == max(1, math.ceil(exact * MICROS_PER_CREDIT))
    assert estimate >= 1  # every call holds something


CALL = st.tuples(
    st.integers(0, 1_000_000),  # share of the estimated prompt the provider reports, in ppm
    st.integers(1, 4_000),  # max_tokens
    st.integers(0, 1_000_000),  # share of max_tokens the reply uses, in ppm
    st.booleans(),  # stop the stream after its first piece
)


@pytest.fixture
def funded(make_harness: HarnessFactory) -> Harness:
    """One well-funded workspace, shared by every example of a test (the books add up across
    them, so the sums below are over everything the test did)."""
    return make_harness(micros=credits(10_000_000))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(p_in=PRICES, p_out=PRICES, calls=st.lists(CALL, min_size=1, max_size=4))
def test_usage_rows_charge_the_list_price_and_sum_to_the_captures(
    funded: Harness, p_in: Decimal, p_out: Decimal, calls: list[tuple[int, int, int, bool]]
) -> None:
    h = funded
    h.ledger.import_prices([price(p_in, p_out)])
    gateway = build_gateway(h.ledger, h.settings)  # a fresh price cache: today's price
    for share_in, max_tokens, share_out, stop in calls:
        key = f"x-{next(_keys)}"
        messages = ask(f"Question {key}: what is the price of {max_tokens} tokens?")
        estimate = gateway.estimate_chat(messages, model=MODEL, max_tokens=max_tokens)
        # At least a token each way (litellm counts for itself when a provider reports none).
        reported_in = max(1, estimate.prompt_tokens * share_in // 1_000_000)
        reported_out = max(1, max_tokens * share_out // 1_000_000)
        h.fake.program(ok(reply_words=8, prompt_tokens=reported_in, completion_tokens=reported_out))
        turn = gateway.chat(h.caller, messages, key=key, model=MODEL, max_tokens=max_tokens)
        stream = iter(turn)
        next(stream, None)
        if not stop:
            for _ in stream:
                pass
        stream.close()  # type: ignore[attr-defined]
        result = turn.result
        assert result is not None and turn.hold is not None
        row = h.ledger.usage_for_hold(turn.hold.id)
        assert row is not None
        assert row.credits == result.credits == h.ledger.hold(turn.hold.id).captured
        if result.status == "ok":
            assert (row.input_tokens, row.output_tokens) == (reported_in, reported_out)
            exact = list_price(reported_in, reported_out, p_in, p_out)
            assert row.credits == math.ceil(exact * MICROS_PER_CREDIT)
        assert row.credits <= turn.hold.amount
    with h.ledger.engine.connect() as conn:
        charged = conn.execute(sa.select(sa.func.sum(usage_records.c.credits))).scalar_one()
        captured = conn.execute(
            sa.select(-sa.func.sum(entries.c.balance_delta)).where(entries.c.kind == "capture")
        ).scalar_one()
    assert int(charged or 0) == int(captured or 0)
    assert h.ledger.verify() == []


_keys = itertools.count()
