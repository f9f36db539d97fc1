"""Files attached to a chat message: pictures for models that see (vision) and text files (PDF,
Markdown, CSV...) read into the message, each checked and limited before anything is held.

A file is read once, when it is attached (:func:`read_attachment`): a picture is decoded in full
(an SVG or a damaged file named .png is refused), a text file is read out as text (UTF-8, or a
PDF's text layer). Only what a model is sent is kept. :func:`user_content` turns a message and
its files into what the gateway takes: plain text when there are none (the request, and its
fingerprint, exactly as before attachments existed), else a list of parts.

Every refusal is an ``InvalidRequest`` whose sentence names the file and the limit.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import unicodedata
from collections.abc import Sequence, Sized
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pypdf
from PIL import Image

from workbench.gateway.content import (
    FILE_LABEL,
    MAX_PICTURE_BYTES,
    MAX_PICTURE_SIDE,
    PICTURE_LABEL,
    megabytes,
)
from workbench.gateway.errors import InvalidRequest
from workbench.images import raster

log = logging.getLogger("workbench.chat")

AttachmentKind = Literal["image", "text"]


@dataclass(frozen=True)
class Attachment:
    """One attached file, as kept with its message. ``name`` is what the person's file was called
    (untrusted text: shown as text). A picture keeps its bytes (``data``); a text file keeps the
    text read out of it (``text``)."""

    name: str
    kind: AttachmentKind
    media_type: str
    size: int  # bytes uploaded
    text: str | None = None
    data: bytes | None = None


MAX_FILES = 5  # per message
MAX_TEXT_FILE_BYTES = 2_000_000  # Markdown, CSV, TXT
# A PDF carries fonts and pictures beside its text, and only the text is sent: more room.
MAX_PDF_BYTES = 10_000_000
MAX_TEXT_CHARS = 100_000  # read out of one file
MAX_NAME_CHARS = 120
# Extension -> media type.
PICTURE_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
TEXT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "txt": "text/plain",
    "csv": "text/csv",
}
# What the chat input offers to pick: ``st.chat_input(accept_file=..., file_type=FILE_TYPES)``.
FILE_TYPES: tuple[str, ...] = (*PICTURE_TYPES, *TEXT_TYPES)
ACCEPTED = "pictures: PNG, JPEG, WebP, GIF; text: PDF, Markdown, CSV, TXT"
KIND_NAMES: dict[str, str] = {
    "image": "pictures (PNG, JPEG, WebP, GIF)",
    "text": "text files (PDF, Markdown, CSV, TXT)",
}


_BY_MEDIA_TYPE = {media: extension for extension, media in {**PICTURE_TYPES, **TEXT_TYPES}.items()}


def file_size(size: int) -> str:
    """A file's size as the conversation and its export show it: 12 bytes, 3.4 KB, 1.2 MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


class Upload(Protocol):
    """A file as the browser sent it (Streamlit's ``UploadedFile`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str | None: ...

    def getvalue(self) -> bytes: ...


def read_uploads(uploads: Sequence[Upload]) -> tuple[Attachment, ...]:
    """Every uploaded file read (:func:`read_attachment`), or the first refusal."""
    check_files(uploads)
    return tuple(read_attachment(u.name, u.type, u.getvalue()) for u in uploads)


def check_files(files: Sized) -> None:
    """At most ``MAX_FILES`` files go with one message."""
    if len(files) > MAX_FILES:
        raise InvalidRequest(
            f"{len(files)} files are attached; a message can carry at most {MAX_FILES}. "
            "Remove some and send again."
        )


def read_attachment(name: str, media_type: str | None, data: bytes) -> Attachment:
    """The file as it goes with a message, or ``InvalidRequest`` saying what is wrong with it.

    The file's extension says what it is (the browser's ``media_type`` only when there is
    none); a picture's real type is then what its bytes decode as."""
    shown = clean_name(name)
    extension = shown.rpartition(".")[2].lower() if "." in shown else ""
    if not extension:
        extension = _BY_MEDIA_TYPE.get((media_type or "").lower(), "")
    if extension not in PICTURE_TYPES and extension not in TEXT_TYPES:
        raise InvalidRequest(f"{shown} is not a file type chat accepts ({ACCEPTED}).")
    if not data:
        raise InvalidRequest(f"{shown} is empty: there is nothing in it to send.")
    if extension in PICTURE_TYPES:
        return _picture(shown, data)
    if extension == "pdf":
        return _text(shown, "application/pdf", data, _pdf_text(shown, data))
    return _text(shown, TEXT_TYPES[extension], data, _plain_text(shown, data))


def clean_name(name: str) -> str:
    """The file's own name, without folders or control characters, and not too long."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in base if not unicodedata.category(c).startswith("C")).strip()
    if not base:
        return "file"
    if len(base) <= MAX_NAME_CHARS:
        return base
    stem, dot, extension = base.rpartition(".")
    if not dot or len(extension) > 10:
        return base[: MAX_NAME_CHARS - 1] + "…"
    return stem[: MAX_NAME_CHARS - len(extension) - 2] + "…." + extension


def _picture(name: str, data: bytes) -> Attachment:
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidRequest(
            f"{name} is {megabytes(len(data))}; a picture may be at most "
            f"{megabytes(MAX_PICTURE_BYTES)}. Attach a smaller copy."
        )
    _check_pixels(name, data)
    try:
        image = raster.decode(data)
    except raster.NotARasterImage as error:
        damaged = error.seen in ("PNG", "JPEG", "GIF", "WebP")
        seen = f"a damaged {error.seen}" if damaged else error.seen
        raise InvalidRequest(
            f"{name} is not a picture chat can read (it looks like {seen}). "
            "Attach a PNG, JPEG, WebP or GIF."
        ) from None
    return Attachment(name, "image", image.media_type, len(data), data=data)


def _check_pixels(name: str, data: bytes) -> None:
    """Refuse by size in pixels from the header, before decoding a single pixel."""
    limit = (
        f"a picture may be at most {MAX_PICTURE_SIDE:,} pixels on a side and "
        f"{raster.MAX_PIXELS // 1_000_000} million pixels in all. Attach a smaller copy."
    )
    try:
        with Image.open(io.BytesIO(data), formats=list(raster.RASTER_FORMATS)) as probe:
            width, height = probe.size
    except Image.DecompressionBombError:
        raise InvalidRequest(f"{name} has far too many pixels; {limit}") from None
    except Exception:
        return  # not a picture at all: decoding says what it looks like
    if max(width, height) > MAX_PICTURE_SIDE or width * height > raster.MAX_PIXELS:
        raise InvalidRequest(f"{name} is {width:,}×{height:,} pixels; {limit}")


def _text(name: str, media_type: str, data: bytes, text: str) -> Attachment:
    if not text.strip():
        raise InvalidRequest(f"{name} is empty: there is no text in it to send.")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequest(
            f"{name} has {len(text):,} characters of text; a file may add at most "
            f"{MAX_TEXT_CHARS:,} to a message. Attach a shorter file or an excerpt."
        )
    return Attachment(name, "text", media_type, len(data), text=text)


def _check_bytes(name: str, data: bytes, limit: int, what: str) -> None:
    if len(data) > limit:
        raise InvalidRequest(
            f"{name} is {megabytes(len(data))}; {what} may be at most {megabytes(limit)}. "
            "Attach a shorter file or an excerpt."
        )


def _plain_text(name: str, data: bytes) -> str:
    _check_bytes(name, data, MAX_TEXT_FILE_BYTES, "a text file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidRequest(f"{name} is UTF-16 text. Save it as UTF-8 and attach it again.")
    if b"\x00" in data:
        raise InvalidRequest(
            f"{name} holds binary data, not text. Attach a text file (PDF, Markdown, CSV or TXT)."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidRequest(
            f"{name} is not UTF-8 text (the bytes from position {error.start:,} are not "
            "UTF-8). Save it as UTF-8 and attach it again."
        ) from None
    return text.replace("\r\n", "\n")


def _pdf_text(name: str, data: bytes) -> str:
    """The PDF's text layer, page after page, read no further than the limit."""
    _check_bytes(name, data, MAX_PDF_BYTES, "a PDF")
    pages: list[str] = []
    read = 0
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opened(reader):
            raise InvalidRequest(
                f"{name} is password-protected, so its text cannot be read. Save a copy "
                "without the password and attach that."
            )
        for page in reader.pages:
            text = page.extract_text().replace("\x00", "")
            pages.append(text)
            read += len(text)
            if read > MAX_TEXT_CHARS:
                raise InvalidRequest(
                    f"{name} has more than {MAX_TEXT_CHARS:,} characters of text; a file may "
                    f"add at most {MAX_TEXT_CHARS:,} to a message. Attach a shorter file or an "
                    "excerpt."
                )
    except InvalidRequest:
        raise
    except Exception as error:  # pypdf on damaged input raises from deep inside; any is "damaged"
        log.info("could not read PDF %r: %s: %s", name, type(error).__name__, error)
        raise InvalidRequest(
            f"{name} could not be read as a PDF (it may be damaged, or not a PDF). "
            "Attach the file again, or its text as TXT or Markdown."
        ) from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InvalidRequest(
            f"{name} has no text to read: its pages may be scanned images. Attach a PDF with "
            "text in it, or the pages as pictures to a model that sees pictures."
        )
    return text


def _opened(reader: pypdf.PdfReader) -> bool:
    """Open a PDF encrypted with an empty password (restrictions only: it opens without one)."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # DependencyError: AES needs a package the workbench does not install
        return False


class TakesFiles(Protocol):
    """A model as far as its files go: a catalogue entry, or the picker's choice."""

    @property
    def name(self) -> str: ...

    @property
    def attachments(self) -> Sequence[str]: ...


def check_accepts(entry: TakesFiles, attachments: Sequence[Attachment]) -> None:
    """``InvalidRequest`` if ``entry`` does not take some of these files, naming what it does."""
    refused = [a for a in attachments if a.kind not in entry.attachments]
    if not refused:
        return
    names = ", ".join(a.name for a in refused)
    if not entry.attachments:
        takes = "takes no attached files"
    else:
        takes = "takes only " + " and ".join(KIND_NAMES[k] for k in entry.attachments)
    raise InvalidRequest(
        f"{entry.name} {takes}, so it cannot be sent {names}. Remove "
        f"{'it' if len(refused) == 1 else 'them'}, or choose a model that takes "
        f"{' and '.join(KIND_NAMES[k] for k in sorted({a.kind for a in refused}))}."
    )


def user_content(text: str, attachments: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A person's message as the gateway takes it (OpenAI's format): the text alone when there
    are no files; else the files first, each named (pictures as data URLs, text files fenced, so
    the model sees where each begins and ends), then the typed text, as a list of parts."""
    if not attachments:
        return text
    parts: list[dict[str, Any]] = []
    for attachment in attachments:
        label = clean_name(attachment.name)
        if attachment.kind == "image":
            assert attachment.data is not None, "a picture keeps its bytes"
            encoded = base64.b64encode(attachment.data).decode("ascii")
            parts.append({"type": "text", "text": f"{PICTURE_LABEL}{label}"})
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:{attachment.media_type};base64,{encoded}"},
                }
            )
        else:
            body = attachment.text or ""
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", body)), default=0))
            parts.append({"type": "text", "text": f"{FILE_LABEL}{label}\n{fence}\n{body}\n{fence}"})
    if text.strip():
        parts.append({"type": "text", "text": text})
    return parts
