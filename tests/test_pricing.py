"""Prices: exact integer arithmetic in micro-credits, versioned rows, and a catalogue file refused
whole when bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import errors
from ledger.amounts import credits
from ledger.pricing import (
    Price,
    PriceChange,
    chat_estimate,
    image_cost,
    load_catalogue,
    token_cost,
)
from ledger.service import Ledger
from tests.conftest import PRICES, Seed, reserve

# 150 and 600 credits per million tokens, in micro-credits per million tokens.
CHAT = Price("m", "ai_text_chat", input_per_mtok=credits(150), output_per_mtok=credits(600))
# 0.15 and 0.6 credits per million tokens: a token costs a fraction of a micro-credit.
CHEAP = Price("c", "ai_text_chat", input_per_mtok=credits("0.15"), output_per_mtok=credits("0.6"))
FREE = Price("f", "ai_text_chat", input_per_mtok=0, output_per_mtok=0)
IMAGES = Price("i", "ai_image_generation", images={("1024x1024", "standard"): credits(40)})


def test_token_cost_is_exact_to_the_micro_credit() -> None:
    assert token_cost(CHAT, 0, 0) == 0
    assert token_cost(CHAT, 1, 0) == credits("0.00015")  # 150 micro-credits, not a whole credit
    assert token_cost(CHAT, 1_000_000, 1_000_000) == credits(750)
    assert token_cost(CHAT, 3_333, 3_334) == credits("2.50035")  # 0.49995 + 2.0004
    assert isinstance(token_cost(CHAT, 10**9, 10**9), int)


def test_token_cost_rounds_up_once_over_the_sum() -> None:
    assert token_cost(CHEAP, 1, 0) == 1  # 0.15 micro-credits round up to one
    assert token_cost(CHEAP, 0, 1) == 1  # 0.6 → 1
    assert token_cost(CHEAP, 1, 1) == 1  # 0.75 → 1: rounded once over the sum, not 1 + 1
    assert token_cost(CHEAP, 10, 10) == 8  # 1.5 + 6 = 7.5 → 8
    assert token_cost(CHEAP, 1_000_000, 0) == credits("0.15")


def test_a_short_gpt_4o_mini_call_costs_its_list_price() -> None:
    """500 tokens in and 200 out at the shipped price: 0.234 credits, not a whole credit."""
    mini = next(p for p in load_catalogue(PRICES) if p.model == "openai/gpt-4o-mini")
    assert token_cost(mini, 500, 200) == credits("0.234") == 234_000


def test_chat_estimate_covers_max_tokens_for_each_reply() -> None:
    assert chat_estimate(CHAT, prompt_tokens=1000, max_tokens=1000, n=2) == credits("1.35")
    assert chat_estimate(CHAT, prompt_tokens=0, max_tokens=1, n=1) == credits("0.0006")
    assert chat_estimate(FREE, prompt_tokens=10, max_tokens=10) == 1  # never below 1 micro-credit
    with pytest.raises(errors.InvalidAmount):
        chat_estimate(CHAT, prompt_tokens=10, max_tokens=0)


def test_image_cost_by_size_and_quality() -> None:
    assert image_cost(IMAGES, "1024x1024", "standard", 3) == credits(120)
    with pytest.raises(errors.InvalidInput, match="no price for size '512x512'"):
        image_cost(IMAGES, "512x512", "standard", 1)


def lines(changes: list[PriceChange]) -> list[str]:
    return [str(change) for change in changes]


def test_catalogue_imports_add_versions_and_removals_unprice(
    ledger: Ledger, seeded: Seed, tmp_path: Path
) -> None:
    assert ledger.import_prices(PRICES) == []  # the fixture loaded it already
    first = ledger.price("demo/chat")
    changed = PRICES.read_text().replace("input_per_million = 100", "input_per_million = 120", 1)
    path = tmp_path / "prices.toml"
    path.write_text(changed)
    assert lines(ledger.import_prices(path)) == ["demo/chat: price version 2"]
    second = ledger.price("demo/chat")
    assert (second.version, second.input_per_mtok) == (2, credits(120))
    hold = ledger.hold(reserve(ledger, seeded, credits(5), "r1"))
    assert hold.price_version_id == second.version_id != first.version_id

    without = "\n".join(
        block for block in changed.split("\n\n") if 'model = "demo/chat"' not in block
    )
    path.write_text(without)
    assert ledger.import_prices(path) == []  # a model missing from the file keeps its price
    assert ledger.price("demo/chat").version == 2
    assert lines(ledger.import_prices(path, withdraw_missing=True)) == [
        "demo/chat: withdrawn (now unpriced)"
    ]
    with pytest.raises(errors.UnpricedModel):
        reserve(ledger, seeded, credits(5), "r2")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[model]]\nmodel = "x"\nfeature = "ai_video"\n', "unknown feature"),
        ('[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = 1\n', "output_per"),
        (
            '[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = 1.0000005\n'
            "output_per_million = 1\n",
            "more than 6 decimals",
        ),
        (
            '[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = "1.5"\n'
            "output_per_million = 1\n",
            "must be a number of credits",
        ),
        (
            '[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = -0.5\n'
            "output_per_million = 1\n",
            "between 0 and",
        ),
        (
            '[[model]]\nmodel = "x"\nfeature = "ai_image_generation"\n'
            '[model.images."256x256"]\nstandard = true\n',
            "must be a number of credits",
        ),
        ('[[model]]\nmodel = "x"\nfeature = "ai_image_generation"\n', "'images' must map"),
        ("[[model]\n", "cannot read price catalogue"),
        (
            '[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = 1\n'
            'output_per_million = 1\n[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\n'
            "input_per_million = 1\noutput_per_million = 1\n",
            "priced twice",
        ),
    ],
)
def test_bad_catalogue_is_refused_whole(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(errors.InvalidInput, match=words):
        load_catalogue(path)


def test_catalogue_prices_in_credits_become_exact_micro_credits(tmp_path: Path) -> None:
    """Decimals are read as written (never through a float): 0.15 is 150,000 micro-credits."""
    path = tmp_path / "prices.toml"
    path.write_text(
        '[[model]]\nmodel = "t"\nfeature = "ai_text_chat"\ninput_per_million = 0.15\n'
        "output_per_million = 0.000001\n"
        '[[model]]\nmodel = "i"\nfeature = "ai_image_generation"\n'
        '[model.images."256x256"]\nstandard = 2.5\nhd = 40\n'
    )
    text, images = load_catalogue(path)
    assert (text.input_per_mtok, text.output_per_mtok) == (150_000, 1)
    assert images.images == {("256x256", "standard"): 2_500_000, ("256x256", "hd"): 40_000_000}
