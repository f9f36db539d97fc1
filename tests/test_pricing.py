"""Prices: exact integer arithmetic, versioned rows, and a catalogue file refused whole when bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import errors
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

CHAT = Price("m", "ai_text_chat", input_per_mtok=150, output_per_mtok=600)
IMAGES = Price("i", "ai_image_generation", images={("1024x1024", "standard"): 40})


def test_token_cost_rounds_up_once_over_the_sum() -> None:
    assert token_cost(CHAT, 0, 0) == 0
    assert token_cost(CHAT, 1, 0) == 1  # 150 micro-credits round up to one credit
    assert token_cost(CHAT, 1_000_000, 1_000_000) == 750
    assert token_cost(CHAT, 3_333, 3_334) == 3  # 499,950 + 2,000,400 = 2,500,350 → 3
    assert isinstance(token_cost(CHAT, 10**9, 10**9), int)


def test_chat_estimate_covers_max_tokens_for_each_reply() -> None:
    assert chat_estimate(CHAT, prompt_tokens=1000, max_tokens=1000, n=2) == 2  # 1.35 → 2
    assert chat_estimate(CHAT, prompt_tokens=0, max_tokens=1, n=1) == 1
    with pytest.raises(errors.InvalidAmount):
        chat_estimate(CHAT, prompt_tokens=10, max_tokens=0)


def test_image_cost_by_size_and_quality() -> None:
    assert image_cost(IMAGES, "1024x1024", "standard", 3) == 120
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
    assert (second.version, second.input_per_mtok) == (2, 120)
    hold = ledger.hold(reserve(ledger, seeded, 5, "r1"))
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
        reserve(ledger, seeded, 5, "r2")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[model]]\nmodel = "x"\nfeature = "ai_video"\n', "unknown feature"),
        ('[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = 1\n', "output_per"),
        (
            '[[model]]\nmodel = "x"\nfeature = "ai_text_chat"\ninput_per_million = 1.5\n'
            "output_per_million = 1\n",
            "whole number",
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
