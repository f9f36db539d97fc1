"""Every image a provider returns is decoded before it is kept or charged: a PNG, JPEG, WebP or
GIF is stored under its real type (extension and media type) byte for byte; anything else (an SVG
passed off as an image, which can carry script; a truncated PNG) is refused, never written to
disk and never charged. Before, whatever came back was stored as ``.png`` and charged.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.fake_providers import ImageFormat, image_bytes, images_as
from tests.gateway_harness import Harness
from workbench.gateway.errors import ProviderFailed

IMAGE_MODEL = "openai/dall-e-2"
SIZE = "256x256"


def per_image(h: Harness) -> int:
    return h.ledger.price(IMAGE_MODEL).images[(SIZE, "standard")]


def files_under(h: Harness) -> list[str]:
    folder = h.settings.image_dir
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(
    ("image_format", "suffix", "media_type"),
    [
        ("PNG", ".png", "image/png"),
        ("JPEG", ".jpg", "image/jpeg"),
        ("WEBP", ".webp", "image/webp"),
        ("GIF", ".gif", "image/gif"),
    ],
)
def test_a_raster_image_is_kept_under_its_real_type(
    harness: Harness, image_format: ImageFormat, suffix: str, media_type: str
) -> None:
    harness.fake.program(images_as(image_format))
    start = harness.balance_and_held()

    result = harness.gateway.generate_images(
        harness.caller, "a fox", key="img1", model=IMAGE_MODEL, n=2, size=SIZE
    )

    assert (result.status, len(result.images), result.message) == ("ok", 2, None)
    for index, image in enumerate(result.images):
        assert image.path.suffix == suffix
        assert image.media_type == media_type
        assert image.read() == image_bytes("a fox", index, image_format)
        assert Image.open(io.BytesIO(image.read())).format == image_format
    assert result.credits == 2 * per_image(harness)
    assert harness.entry_kinds(result.hold_id) == {"hold": 1, "capture": 1}
    assert harness.balance_and_held() == (start[0] - 2 * per_image(harness), 0)
    [row] = harness.usage_rows()
    assert (row.status, row.images, row.credits, row.error_type) == (
        "ok",
        2,
        2 * per_image(harness),
        None,
    )

    # A replay of the same request finds the same images, still under their real type.
    again = harness.gateway.generate_images(
        harness.caller, "a fox", key="img1", model=IMAGE_MODEL, n=2, size=SIZE
    )
    assert again.replayed
    assert [(i.path, i.media_type) for i in again.images] == [
        (i.path, i.media_type) for i in result.images
    ]
    assert len(harness.fake.api_requests()) == 1


@pytest.mark.parametrize(
    ("image_format", "seen"),
    [("SVG", "SVG"), ("TRUNCATED_PNG", "PNG")],
)
def test_an_answer_that_is_not_a_raster_image_is_refused_and_not_charged(
    harness: Harness, image_format: ImageFormat, seen: str
) -> None:
    harness.fake.program(images_as(image_format))
    start = harness.balance_and_held()

    with pytest.raises(ProviderFailed) as caught:
        harness.gateway.generate_images(
            harness.caller, "a fox", key="img1", model=IMAGE_MODEL, n=2, size=SIZE
        )

    failure = caught.value
    assert (failure.fields["status"], failure.fields["settlement"]) == ("error", "released")
    assert failure.fields["error_type"] == "NotARasterImage"
    assert "not an image" in failure.message and "Nothing was charged" in failure.message
    [hold] = harness.holds()
    assert failure.fields["hold_id"] == hold.id
    assert hold.status == "released"
    assert not hold.captured
    assert harness.entry_kinds(hold.id) == {"hold": 1, "release": 1}
    [reason] = harness.entry_reasons(hold.id, "release")
    assert "not an image" in reason
    assert harness.balance_and_held() == (start[0], 0)
    [row] = harness.usage_rows()
    assert (row.status, row.credits, row.images, row.error_type) == (
        "error",
        0,
        0,
        "NotARasterImage",
    )
    assert row.error_message is not None and seen in row.error_message
    # Nothing of it reached the disk, and there is nothing to show or replay.
    assert files_under(harness) == []
    assert harness.gateway.images.load(hold.id) == []


def test_a_non_raster_image_among_good_ones_is_dropped_and_not_charged(harness: Harness) -> None:
    harness.fake.program(images_as("PNG", "SVG", "JPEG"))
    start = harness.balance_and_held()

    result = harness.gateway.generate_images(
        harness.caller, "a fox", key="img1", model=IMAGE_MODEL, n=3, size=SIZE
    )

    assert result.status == "ok"
    assert [(i.index, i.path.suffix, i.media_type) for i in result.images] == [
        (0, ".png", "image/png"),
        (1, ".jpg", "image/jpeg"),
    ]
    assert result.images[1].read() == image_bytes("a fox", 2, "JPEG")
    assert result.message is not None and "2 of 3" in result.message
    assert "not an image" in result.message
    assert result.credits == 2 * per_image(harness)
    assert harness.entry_kinds(result.hold_id) == {"hold": 1, "capture": 1, "release": 1}
    assert harness.balance_and_held() == (start[0] - 2 * per_image(harness), 0)
    [row] = harness.usage_rows()
    assert (row.status, row.images, row.credits, row.error_type) == (
        "ok",
        2,
        2 * per_image(harness),
        "NotARasterImage",
    )
    assert files_under(harness) == ["0.png", "1.jpg", "meta.json"]
