"""The model catalogue is the allowlist: unusable models fall back to the default with a notice
(or are refused when fallback is off), and a malformed catalogue is refused whole, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.pricing import load_catalogue as load_prices
from workbench.config import DATA
from workbench.gateway.catalogue import Catalogue, load
from workbench.gateway.errors import InvalidRequest, ModelUnavailable

SHIPPED = DATA / "models.toml"
ALL = {"demo", "openai", "anthropic"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load(SHIPPED)


def test_every_enabled_shipped_model_is_priced_for_its_kind(catalogue: Catalogue) -> None:
    prices = {p.model: p for p in load_prices(DATA / "prices.toml")}
    feature = {"chat": "ai_text_chat", "image": "ai_image_generation"}
    for entry in catalogue.entries:
        if entry.enabled:
            assert entry.price in prices, f"{entry.id} is enabled but unpriced"
            assert prices[entry.price].feature_key == feature[entry.kind]


def test_a_usable_model_resolves_to_itself(catalogue: Catalogue) -> None:
    resolution = catalogue.resolve("openai/gpt-4o", "chat", ALL)
    assert resolution.entry.id == "openai/gpt-4o" and resolution.notice is None
    assert catalogue.resolve(None, "chat", ALL).entry.id == "demo/chat"


@pytest.mark.parametrize(
    ("requested", "kind", "available", "says"),
    [
        ("openai/gpt-5-ultra", "chat", ALL, "not on the workbench's allowlist"),
        ("local/llama3.2", "chat", ALL, "switched off by an admin"),
        ("openai/dall-e-3", "chat", ALL, "is an image model, not a chat model"),
        ("anthropic/claude-haiku-4-5", "chat", {"demo", "openai"}, "needs a key for Anthropic"),
    ],
)
def test_an_unusable_model_falls_back_with_a_notice(
    catalogue: Catalogue, requested: str, kind: str, available: set[str], says: str
) -> None:
    resolution = catalogue.resolve(requested, kind, available)  # type: ignore[arg-type]
    assert resolution.entry.id == "demo/chat"
    assert resolution.notice is not None
    assert says in resolution.notice and "using Demo chat (offline) instead" in resolution.notice
    with pytest.raises(ModelUnavailable, match=says):
        catalogue.resolve(requested, kind, available, fallback=False)  # type: ignore[arg-type]


def test_a_broken_default_is_an_error_not_a_silent_substitute(catalogue: Catalogue) -> None:
    broken = Catalogue(catalogue.entries, "openai/gpt-4o", catalogue.default_image)
    with pytest.raises(ModelUnavailable, match="default chat model cannot be used"):
        broken.resolve("nope", "chat", {"demo"})


def test_offered_models_are_enabled_with_a_configured_provider(catalogue: Catalogue) -> None:
    assert [e.id for e in catalogue.offered("chat", {"demo"})] == ["demo/chat"]
    offered = {e.id for e in catalogue.offered("chat", ALL)}
    assert "local/llama3.2" not in offered and "openai/gpt-4o-mini" in offered
    assert {e.kind for e in catalogue.offered("image", ALL)} == {"image"}


GOOD_ENTRY = """
[[model]]
id = "demo/chat"
name = "Demo"
provider = "demo"
kind = "chat"
litellm_model = "demo/chat"
context_window = 100
max_output_tokens = 10

[[model]]
id = "demo/images"
name = "Demo images"
provider = "demo"
kind = "image"
litellm_model = "demo/images"
max_images = 2
"""
HEADER = 'default_chat = "demo/chat"\ndefault_image = "demo/images"\n'


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("this is = not toml [", "cannot read the model catalogue"),
        (GOOD_ENTRY, "default_chat"),
        (HEADER + GOOD_ENTRY + GOOD_ENTRY, "listed twice: demo/chat, demo/images"),
        (HEADER + GOOD_ENTRY.replace('provider = "demo"', 'provider = "acme"', 1), "provider"),
        (HEADER + GOOD_ENTRY.replace("context_window = 100\n", ""), "context_window"),
        (HEADER.replace('"demo/images"', '"demo/chat"') + GOOD_ENTRY, "default_image"),
        (
            HEADER
            + GOOD_ENTRY
            + '[[model]]\nid = "x"\nname = "X"\nprovider = "openai_compatible"\nkind = "chat"\n'
            'litellm_model = "openai/x"\ncontext_window = 9\nmax_output_tokens = 9\n',
            "api_base",
        ),
        (HEADER + GOOD_ENTRY.replace('name = "Demo"', 'name = "Demo"\ncolour = "red"'), "colour"),
    ],
)
def test_a_malformed_catalogue_is_refused_by_name(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(InvalidRequest, match=says):
        load(path)


def test_a_minimal_catalogue_loads(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(HEADER + GOOD_ENTRY)
    catalogue = load(path)
    assert [e.id for e in catalogue.entries] == ["demo/chat", "demo/images"]
    assert catalogue.get("demo/chat") is not None
    assert catalogue.get("demo/chat").price == "demo/chat"  # type: ignore[union-attr]
