"""Image generation through the gateway: held at n times the price, charged per image that came
back, stored under the image folder for their owner, with one usage row in the capture."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.fake_providers import png_bytes
from tests.gateway_harness import Harness


def test_openai_images_are_stored_and_charged_per_image(harness: Harness) -> None:
    before = harness.available()
    price = harness.ledger.price("openai/dall-e-2").images[("256x256", "standard")]
    estimate = harness.gateway.estimate_images(model="openai/dall-e-2", n=3, size="256x256")
    assert estimate.credits == 3 * price

    result = harness.gateway.generate_images(
        harness.caller, "a red fox", key="img-1", model="openai/dall-e-2", n=3, size="256x256"
    )

    assert result.status == "ok" and len(result.images) == 3 and result.message is None
    assert [image.read() for image in result.images] == [
        png_bytes("a red fox", i) for i in range(3)
    ]
    assert all(image.user_id == harness.caller.user_id for image in result.images)
    assert all(image.path.is_relative_to(harness.settings.image_dir) for image in result.images)
    assert result.credits == 3 * price
    assert harness.available() == before - 3 * price
    [request] = harness.fake.api_requests("/v1/images/generations")
    assert (request.body["n"], request.body["size"], request.body["quality"]) == (
        3,
        "256x256",
        "standard",
    )
    [row] = harness.usage_rows()
    assert (row.status, row.images, row.image_size, row.image_quality) == (
        "ok",
        3,
        "256x256",
        "standard",
    )
    assert row.credits == 3 * price and row.operation_type == "image_generation"
    assert row.feature_key == "ai_image_generation" and row.hold_id == result.hold_id


def test_demo_images_are_drawn_locally_and_billed(harness: Harness) -> None:
    result = harness.gateway.generate_images(
        harness.caller, "a lighthouse at dusk", key="img-demo", n=2, size="512x512"
    )
    assert result.model.id == "demo/images" and result.status == "ok"
    sizes = [Image.open(io.BytesIO(image.read())).size for image in result.images]
    assert sizes == [(512, 512), (512, 512)]
    assert result.images[0].read() != result.images[1].read()
    price = harness.ledger.price("demo/images").images[("512x512", "standard")]
    assert result.credits == 2 * price
    assert harness.fake.api_requests() == []
    [row] = harness.usage_rows()
    assert (row.provider, row.images, row.credits) == ("demo", 2, 2 * price)


@pytest.mark.parametrize(("size", "quality"), [("1024x1792", "hd"), ("1024x1024", "standard")])
def test_size_and_quality_pick_the_price(harness: Harness, size: str, quality: str) -> None:
    price = harness.ledger.price("openai/dall-e-3").images[(size, quality)]
    result = harness.gateway.generate_images(
        harness.caller,
        "a map",
        key=f"img-{size}",
        model="openai/dall-e-3",
        size=size,
        quality=quality,
    )
    assert result.credits == price
    [request] = harness.fake.api_requests("/v1/images/generations")
    assert (request.body["size"], request.body["quality"]) == (size, quality)


def test_image_options_list_what_is_priced(harness: Harness) -> None:
    options = harness.gateway.image_options("openai/dall-e-3")
    assert options["1024x1024"] == ["standard", "hd"]  # cheapest first
    assert set(options) == {"1024x1024", "1024x1792", "1792x1024"}
