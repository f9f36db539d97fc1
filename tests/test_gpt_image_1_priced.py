"""gpt-image-1 is priced like the other shipped models: OpenAI's list price per image times 1.2,
exact to the micro-credit, for each of its three sizes at each of its three qualities, and for
nothing else ("auto" size or quality is billed by what OpenAI picks, so it cannot be held for)."""

from __future__ import annotations

from decimal import Decimal

from ledger.amounts import credits
from ledger.pricing import load_catalogue
from ledger.service import Ledger
from workbench.config import DATA
from workbench.gateway.catalogue import load

MODEL = "openai/gpt-image-1"
MARKUP = Decimal("1.2")
CREDITS_PER_USD = 1000
# OpenAI's list price per image, US$ (platform.openai.com pricing, and litellm's cost map).
LIST_USD = {
    ("1024x1024", "low"): Decimal("0.011"),
    ("1024x1536", "low"): Decimal("0.016"),
    ("1536x1024", "low"): Decimal("0.016"),
    ("1024x1024", "medium"): Decimal("0.042"),
    ("1024x1536", "medium"): Decimal("0.063"),
    ("1536x1024", "medium"): Decimal("0.063"),
    ("1024x1024", "high"): Decimal("0.167"),
    ("1024x1536", "high"): Decimal("0.25"),
    ("1536x1024", "high"): Decimal("0.25"),
}
EXPECTED = {key: credits(usd * CREDITS_PER_USD * MARKUP) for key, usd in LIST_USD.items()}


def test_the_shipped_prices_are_list_price_with_the_markup() -> None:
    [price] = [p for p in load_catalogue(DATA / "prices.toml") if p.model == MODEL]
    assert price.feature_key == "ai_image_generation"
    assert dict(price.images) == EXPECTED
    assert EXPECTED[("1024x1024", "low")] == 13_200_000  # 13.2 credits, in micro-credits
    assert EXPECTED[("1536x1024", "high")] == 300_000_000


def test_the_seeded_database_charges_the_same(ledger: Ledger) -> None:
    assert dict(ledger.price(MODEL).images) == EXPECTED


def test_the_catalogue_entry_is_an_openai_image_model_within_openais_limit() -> None:
    [entry] = [e for e in load(DATA / "models.toml").entries if e.id == MODEL]
    assert (entry.provider, entry.kind, entry.litellm_model) == ("openai", "image", MODEL)
    assert entry.enabled and entry.price == MODEL
    assert 1 <= entry.max_images <= 10  # OpenAI takes n = 1..10 for gpt-image-1
