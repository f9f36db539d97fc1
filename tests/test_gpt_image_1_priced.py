"""gpt-image-1 is priced like the other shipped models: OpenAI's list price per image times 1.2,
exact to the micro-credit, for each of its three sizes at each of its three qualities, and for
nothing else ("auto" size or quality is billed by what OpenAI picks, so it cannot be held for)."""

from __future__ import annotations

from decimal import Decimal

from ledger.amounts import credits
from ledger.pricing import load_catalogue
from ledger.service import Ledger
from tests.test_gateway_images_gpt_image_1 import LIST_USD
from workbench.config import DATA
from workbench.gateway.catalogue import load

MODEL = "openai/gpt-image-1"
MARKUP = Decimal("1.2")
CREDITS_PER_USD = 1000
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
