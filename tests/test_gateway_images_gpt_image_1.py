"""gpt-image-1 through the gateway, over litellm and real HTTP to the loopback OpenAI fake: every
priced size and quality is charged its catalogue price per image kept, the request carries only
what gpt-image-1 accepts (no ``response_format``: it always answers base64 and refuses the field),
an unpriced size or quality ("auto" included) is refused before anything is held, and a provider
error charges nothing."""

from __future__ import annotations

import itertools
from decimal import Decimal

import litellm
import pytest
from litellm.exceptions import BadRequestError

from tests.fake_providers import Behaviour, error, png_bytes
from tests.gateway_harness import Harness
from workbench.gateway.errors import InvalidRequest, ProviderFailed

MODEL = "openai/gpt-image-1"
SIZES = ("1024x1024", "1024x1536", "1536x1024")
QUALITIES = ("low", "medium", "high")
# OpenAI's list price per image in US$: what litellm's cost map (and so the usage row) says.
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


def nothing_happened(h: Harness, start: tuple[int, int]) -> None:
    assert h.balance_and_held() == start
    assert h.holds() == [] and h.usage_rows() == []
    assert h.fake.api_requests() == []


@pytest.mark.parametrize(("size", "quality"), list(itertools.product(SIZES, QUALITIES)))
def test_each_size_and_quality_is_charged_its_catalogue_price_per_image(
    harness: Harness, size: str, quality: str
) -> None:
    per_image = harness.ledger.price(MODEL).images[(size, quality)]
    start = harness.balance_and_held()
    estimate = harness.gateway.estimate_images(model=MODEL, n=3, size=size, quality=quality)
    assert estimate.credits == 3 * per_image

    result = harness.gateway.generate_images(
        harness.caller, "a harbour at noon", key="g1", model=MODEL, n=3, size=size, quality=quality
    )

    assert (result.status, result.model.id, result.message) == ("ok", MODEL, None)
    assert [image.read() for image in result.images] == [
        png_bytes("a harbour at noon", i) for i in range(3)
    ]
    assert result.credits == 3 * per_image
    assert harness.balance_and_held() == (start[0] - 3 * per_image, 0)
    assert harness.entry_kinds(result.hold_id) == {"hold": 1, "capture": 1}
    # Exactly what gpt-image-1 takes: a response_format here would be a 400 from OpenAI.
    [request] = harness.fake.api_requests("/v1/images/generations")
    assert request.body == {
        "model": "gpt-image-1",
        "prompt": "a harbour at noon",
        "n": 3,
        "size": size,
        "quality": quality,
    }
    assert request.behaviour == "ok" and request.images_returned == 3
    [row] = harness.usage_rows()
    assert (row.model, row.provider, row.status, row.operation_type) == (
        MODEL,
        "openai",
        "ok",
        "image_generation",
    )
    assert (row.images, row.image_size, row.image_quality) == (3, size, quality)
    assert (row.credits, row.hold_id, row.error_type) == (3 * per_image, result.hold_id, None)
    assert row.usd_cost_nanos == 3 * LIST_USD[(size, quality)] * 1_000_000_000


def test_the_size_and_quality_reach_the_images_meta(harness: Harness) -> None:
    result = harness.gateway.generate_images(
        harness.caller, "a kite", key="g1", model=MODEL, size="1536x1024", quality="medium"
    )
    meta, images = harness.gateway.images.call(result.hold_id)
    assert (meta["model"], meta["size"], meta["quality"], meta["requested"]) == (
        MODEL,
        "1536x1024",
        "medium",
        1,
    )
    assert [image.read() for image in images] == [png_bytes("a kite", 0)]


def test_the_picker_offers_every_priced_size_and_quality_and_nothing_else(
    harness: Harness,
) -> None:
    options = harness.gateway.image_options(MODEL)
    assert list(options) == list(SIZES)
    # Cheapest first, so the picker reads low, medium, high and defaults to low.
    assert all(qualities == ["low", "medium", "high"] for qualities in options.values())
    assert harness.gateway.estimate_images(model=MODEL, size="1024x1024").quality == "low"


@pytest.mark.parametrize(
    ("size", "quality", "words"),
    [
        ("auto", "low", ("GPT Image 1", "'auto'", "1024x1024, 1024x1536, 1536x1024")),
        ("1024x1024", "auto", ("no 'auto' quality at 1024x1024", "low", "medium", "high")),
        ("1024x1024", "standard", ("no 'standard' quality", "low", "medium", "high")),
        ("1024x1024", "hd", ("no 'hd' quality",)),
        ("1792x1024", "high", ("does not make '1792x1024'",)),
        ("256x256", "low", ("does not make '256x256'",)),
    ],
)
def test_an_unpriced_size_or_quality_is_refused_before_anything_is_held(
    harness: Harness, size: str, quality: str, words: tuple[str, ...]
) -> None:
    start = harness.balance_and_held()
    for attempt in (
        lambda: harness.gateway.estimate_images(model=MODEL, size=size, quality=quality),
        lambda: harness.gateway.generate_images(
            harness.caller, "a fox", key="g1", model=MODEL, size=size, quality=quality
        ),
    ):
        with pytest.raises(InvalidRequest) as caught:
            attempt()
        for word in words:
            assert word in str(caught.value), f"{word!r} not in {caught.value}"
        nothing_happened(harness, start)


def test_more_images_than_the_model_makes_at_once_are_refused(harness: Harness) -> None:
    start = harness.balance_and_held()
    with pytest.raises(InvalidRequest, match="GPT Image 1 makes 1 to 4 images at a time; got 5"):
        harness.gateway.generate_images(
            harness.caller, "a fox", key="g1", model=MODEL, n=5, size="1024x1024", quality="low"
        )
    nothing_happened(harness, start)


MODERATION = {
    "error": {
        "message": "Your request was rejected as a result of our safety system.",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
    }
}


@pytest.mark.parametrize(
    ("answers", "requests", "error_type"),
    [
        ([error(500), error(500)], 2, "InternalServerError"),
        ([error(400, body=MODERATION)], 1, "BadRequestError"),
    ],
    ids=["server-error-retried", "refused-by-moderation"],
)
def test_a_provider_error_charges_nothing_and_releases_the_hold(
    harness: Harness, answers: list[Behaviour], requests: int, error_type: str
) -> None:
    harness.fake.program(*answers)
    start = harness.balance_and_held()

    with pytest.raises(ProviderFailed) as caught:
        harness.gateway.generate_images(
            harness.caller, "a fox", key="g1", model=MODEL, n=2, size="1024x1536", quality="high"
        )

    failure = caught.value
    assert (failure.fields["status"], failure.fields["settlement"]) == ("error", "released")
    [hold] = harness.holds()
    assert failure.fields["hold_id"] == hold.id
    assert (hold.model, hold.status, hold.captured) == (MODEL, "released", None)
    assert hold.amount == 2 * harness.ledger.price(MODEL).images[("1024x1536", "high")]
    assert harness.entry_kinds(hold.id) == {"hold": 1, "release": 1}
    assert harness.balance_and_held() == start
    assert len(harness.fake.api_requests("/v1/images/generations")) == requests
    assert harness.fake.pending == 0
    [row] = harness.usage_rows()
    assert (row.model, row.status, row.credits, row.images) == (MODEL, "error", 0, 0)
    assert (row.hold_id, row.error_type) == (hold.id, error_type)
    assert failure.fields["error_type"] == error_type
    assert harness.gateway.images.load(hold.id) == []


def test_the_fake_refuses_what_openai_refuses_for_gpt_image_1(harness: Harness) -> None:
    """The request-body checks above mean something: sent a ``response_format`` (as DALL·E is),
    gpt-image-1 answers 400, as OpenAI does, and so would the gateway's call."""
    with pytest.raises(BadRequestError, match="Unknown parameter: 'response_format'"):
        litellm.image_generation(
            model=MODEL,
            prompt="a fox",
            size="1024x1024",
            quality="low",
            extra_body={"response_format": "b64_json"},
            api_base=harness.fake.openai_base,
            api_key="sk-test",
            max_retries=0,
        )
    with pytest.raises(BadRequestError, match="Invalid value: 'standard'"):
        litellm.image_generation(
            model=MODEL,
            prompt="a fox",
            quality="standard",
            api_base=harness.fake.openai_base,
            api_key="sk-test",
            max_retries=0,
        )
    assert [r.behaviour for r in harness.fake.api_requests()] == ["invalid", "invalid"]
    harness.fake.reset()  # these two carried no hold: not the gateway's
