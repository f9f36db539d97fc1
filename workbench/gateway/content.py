"""A message's content as parts: plain text, or a list of OpenAI-style parts (text, and pictures
sent with the message as ``data:`` URLs), checked before anything is held.

Pictures only ever travel inside the request: a part pointing at a web address is refused, since
litellm would fetch it (from the server, with its network access) and the workbench loads nothing
from outside. A picture is read as far as its header (type and size in pixels), enough to refuse
what a provider would refuse and to count what it costs; the chat page has already decoded the
pictures it attaches in full (``workbench.chat.attachments``).
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from workbench.gateway.errors import InvalidRequest

# Pillow's format name for each picture type a model is sent.
PICTURE_FORMATS: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}
# Anthropic refuses a picture over 5 MiB (5,242,880 bytes) once base64-encoded: 3.75 MB of
# bytes is 5,000,000 encoded.
MAX_PICTURE_BYTES = 3_750_000
# Anthropic refuses a picture wider or taller than this.
MAX_PICTURE_SIDE = 8_000
# Per request (the whole conversation goes with every turn): Anthropic shrinks pictures past 20
# to 2,000 pixels a side, and refuses requests over 32 MB; 20 MB of pictures is 27 MB encoded.
MAX_PICTURES = 20
MAX_PICTURES_BYTES = 20_000_000
# The convention the chat page writes attachments in, and the demo reads them back by.
PICTURE_LABEL = "Attached picture: "
FILE_LABEL = "Attached file: "


@dataclass(frozen=True)
class Picture:
    """A picture part's data URL, read as far as its header."""

    url: str
    media_type: str
    size: int  # bytes, decoded
    width: int
    height: int


def megabytes(size: int) -> str:
    """A size as people read it: 3.75 MB, 20 MB (decimal megabytes, as browsers show; rounded
    up, so a size just over a limit never reads as the limit)."""
    hundredths = -(-size // 10_000)
    return f"{f'{hundredths / 100:.2f}'.rstrip('0').rstrip('.')} MB"


def _shape_error(where: str, got: object) -> InvalidRequest:
    return InvalidRequest(
        "Each message needs text content, or a list of parts: text parts "
        '({"type": "text", "text": ...}) and pictures sent with it ({"type": "image_url", '
        f'"image_url": {{"url": "data:image/png;base64,..."}}}}); {where} is '
        f"{type(got).__name__} {str(got)[:30]!r}."
    )


def check_parts(parts: Sequence[object], where: str) -> tuple[list[dict[str, Any]], list[Picture]]:
    """The parts as plain dicts with only the keys a provider is sent, and the pictures among
    them, or ``InvalidRequest``."""
    checked: list[dict[str, Any]] = []
    pictures: list[Picture] = []
    for number, part in enumerate(parts, 1):
        here = f"part {number} of {where}"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if not isinstance(part, Mapping) or kind not in ("text", "image_url"):
            raise _shape_error(here, part)
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _shape_error(f"the text of {here}", text)
            checked.append({"type": "text", "text": text})
            continue
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else None
        if not isinstance(image, Mapping) or not isinstance(url, str):
            raise _shape_error(f"the image_url of {here}", image)
        pictures.append(read_picture(url, here))  # refuses a web address, or not a picture
        detail = image.get("detail")
        if detail not in (None, "auto", "low", "high"):
            raise InvalidRequest(
                f"A picture's detail must be auto, low or high; {here} has {detail!r:.20}."
            )
        checked.append(
            {
                "type": "image_url",
                "image_url": {"url": url, **({"detail": detail} if detail else {})},
            }
        )
    return checked, pictures


def read_picture(url: str, where: str = "the picture") -> Picture:
    """The picture a ``data:image/...;base64,`` URL carries, or ``InvalidRequest``."""
    subject = where[:1].upper() + where[1:]
    if not url.startswith("data:"):
        raise InvalidRequest(
            "Pictures must be sent with the message (a data: URL); the workbench loads nothing "
            f"from the web, and {where} points at {url[:60]!r}."
        )
    header, comma, payload = url.partition(",")
    media_type = header.removeprefix("data:").removesuffix(";base64").lower()
    if not comma or not header.endswith(";base64") or media_type not in PICTURE_FORMATS:
        raise InvalidRequest(
            f"{subject} is not a picture models accept (PNG, JPEG, WebP or GIF, "
            f"base64-encoded); its data URL starts {header[:40]!r}."
        )
    if len(payload) > (MAX_PICTURE_BYTES + 2) // 3 * 4:
        raise InvalidRequest(
            f"{subject} is over {megabytes(MAX_PICTURE_BYTES)}; a picture may be at "
            f"most {megabytes(MAX_PICTURE_BYTES)}."
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{subject} is not valid base64.") from None
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidRequest(
            f"{subject} is {megabytes(len(data))}; a picture may be at most "
            f"{megabytes(MAX_PICTURE_BYTES)}."
        )
    width, height = _pixels(data, PICTURE_FORMATS[media_type], media_type, where)
    if max(width, height) > MAX_PICTURE_SIDE:
        raise InvalidRequest(
            f"{subject} is {width:,}×{height:,} pixels; a picture may be at most "
            f"{MAX_PICTURE_SIDE:,} pixels on a side."
        )
    return Picture(url, media_type, len(data), width, height)


def _pixels(data: bytes, image_format: str, media_type: str, where: str) -> tuple[int, int]:
    """Width and height from the picture's header; only its declared format's reader runs, so
    a JPEG labelled PNG (which Anthropic refuses) is refused here."""
    subject = where[:1].upper() + where[1:]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidRequest(
            f"{subject} has far too many pixels; a picture may be at most "
            f"{MAX_PICTURE_SIDE:,} pixels on a side."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise InvalidRequest(
            f"{subject} is labelled {media_type} but is not a picture of that type."
        ) from None
    return int(width), int(height)


def parts_of(content: object) -> list[Mapping[str, Any]]:
    """A checked content's parts: a plain text is one text part."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, Sequence):
        return [part for part in content if isinstance(part, Mapping)]
    return []


def text_of(content: object) -> str:
    """The text of a checked content: its text parts, one after another."""
    if isinstance(content, str):
        return content
    return "\n\n".join(str(p.get("text", "")) for p in parts_of(content) if p.get("type") == "text")


def picture_urls(content: object) -> list[str]:
    """The data URLs of a checked content's pictures, in order."""
    return [str(p["image_url"]["url"]) for p in parts_of(content) if p.get("type") == "image_url"]


def check_pictures(pictures: Sequence[Picture]) -> None:
    """What a whole request may carry (every earlier picture goes again with each turn)."""
    if len(pictures) > MAX_PICTURES:
        raise InvalidRequest(
            f"This conversation carries {len(pictures)} pictures; at most {MAX_PICTURES} go to a "
            "model in one request. Start a new conversation to send more."
        )
    total = sum(p.size for p in pictures)
    if total > MAX_PICTURES_BYTES:
        raise InvalidRequest(
            f"The pictures in this conversation add up to {megabytes(total)}; at most "
            f"{megabytes(MAX_PICTURES_BYTES)} go to a model in one request. Start a new "
            "conversation to send more."
        )
