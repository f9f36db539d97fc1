"""What counts as an image the workbench keeps: bytes that Pillow decodes, in full, as one of the
raster formats every browser shows (PNG, JPEG, WebP, GIF). Nothing else is stored or charged.

A provider's answer is untrusted: a mock (or a provider gone wrong) that sends an SVG where a PNG
was promised would otherwise be served to browsers, and an SVG can carry script. Decoding proves
the bytes are pixels, and gives the real type for the file's extension and ``Content-Type``.
The bytes are kept exactly as they came (no re-encoding): served with their real media type and
``nosniff``, a decodable raster cannot run.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# Pillow's format name -> (file extension, media type). Only these are accepted.
RASTER_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
MEDIA_TYPES: dict[str, str] = dict(RASTER_FORMATS.values())
# Far above any image a provider makes (4096 x 4096 is 16.7 M), far below a decompression bomb.
MAX_PIXELS = 50_000_000


class NotARasterImage(ValueError):
    """The bytes are not a PNG, JPEG, WebP or GIF that decodes; ``seen`` says what they looked
    like ("SVG", "HTML", "PNG" for a broken one, "unknown")."""

    def __init__(self, seen: str, detail: str) -> None:
        super().__init__(f"not a PNG, JPEG, WebP or GIF image (looks like {seen}): {detail}")
        self.seen = seen


@dataclass(frozen=True)
class RasterImage:
    """Bytes proven to decode as ``format`` (a key of ``RASTER_FORMATS``), with its size."""

    data: bytes
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return RASTER_FORMATS[self.format][0]

    @property
    def media_type(self) -> str:
        return RASTER_FORMATS[self.format][1]


def decode(data: bytes) -> RasterImage:
    """``data`` as a raster image, decoded in full; ``NotARasterImage`` otherwise."""
    seen = _looks_like(data)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse instead.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the accepted formats' parsers are tried: nothing else reads untrusted bytes.
            with Image.open(io.BytesIO(data), formats=list(RASTER_FORMATS)) as probe:
                image_format = str(probe.format)
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise NotARasterImage(seen, f"{width}x{height} pixels is too many")
                probe.verify()  # checksums and structure (PNG chunks' CRCs)
            # verify() leaves the image unusable; decoding every pixel needs a fresh open.
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                image.load()
    except NotARasterImage:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ) as error:
        raise NotARasterImage(seen, type(error).__name__) from None
    return RasterImage(data, image_format, width, height)


def _looks_like(data: bytes) -> str:
    """A word for the log and the usage row: what the bytes seem to be, from their first bytes."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"\x89png"):
        return "PNG"
    if head.startswith(b"\xff\xd8"):
        return "JPEG"
    if head.startswith((b"gif87a", b"gif89a")):
        return "GIF"
    if head.startswith(b"riff") and head[8:12] == b"webp":
        return "WebP"
    if b"<svg" in head:
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if head.startswith(b"<"):
        return "XML"
    return "unknown data" if data else "nothing"
