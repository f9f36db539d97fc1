"""Files attached to a chat message, read once when attached: pictures proven to be pictures,
text files read out as text (UTF-8, a PDF's text layer), each limit refused with a sentence that
names the file and the limit; which models take which files; and the message content the gateway
is sent (plain text when nothing is attached)."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from dataclasses import dataclass

import pypdf
import pytest
from PIL import Image
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from tests.fake_providers import SVG, image_bytes
from workbench.chat.attachments import (
    FILE_TYPES,
    MAX_FILES,
    MAX_TEXT_CHARS,
    MAX_TEXT_FILE_BYTES,
    Attachment,
    check_accepts,
    check_files,
    clean_name,
    read_attachment,
    read_uploads,
    user_content,
)
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.content import FILE_LABEL, MAX_PICTURE_BYTES, PICTURE_LABEL
from workbench.gateway.errors import InvalidRequest

ACCEPTED = "(pictures: PNG, JPEG, WebP, GIF; text: PDF, Markdown, CSV, TXT)"


def refused(name: str, data: bytes, media_type: str | None = None) -> str:
    with pytest.raises(InvalidRequest) as caught:
        read_attachment(name, media_type, data)
    return str(caught.value)


def picture(image_format: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, format=image_format)
    return out.getvalue()


def pdf(*pages: str, user_password: str | None = None, owner_password: str | None = None) -> bytes:
    """A PDF whose pages show ``pages`` in Helvetica (a real text layer pypdf reads back)."""
    writer = pypdf.PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
        fonts = DictionaryObject({NameObject("/F1"): font})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        page[NameObject("/Contents")] = writer._add_object(stream)
    if user_password is not None:
        writer.encrypt(
            user_password=user_password, owner_password=owner_password, algorithm="RC4-128"
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- pictures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "image_format", "media_type"),
    [
        ("photo.png", "PNG", "image/png"),
        ("photo.jpg", "JPEG", "image/jpeg"),
        ("photo.JPEG", "JPEG", "image/jpeg"),
        ("photo.webp", "WEBP", "image/webp"),
        ("photo.gif", "GIF", "image/gif"),
    ],
)
def test_a_picture_keeps_its_bytes_and_real_type(
    name: str, image_format: str, media_type: str
) -> None:
    data = picture(image_format)
    attachment = read_attachment(name, "application/octet-stream", data)
    assert attachment == Attachment(name, "image", media_type, len(data), data=data)


def test_a_jpeg_named_png_is_taken_as_the_jpeg_it_is() -> None:
    data = picture("JPEG")
    attachment = read_attachment("photo.png", "image/png", data)
    assert (attachment.kind, attachment.media_type, attachment.data) == (
        "image",
        "image/jpeg",
        data,
    )


@pytest.mark.parametrize(
    ("data", "seen"),
    [
        (SVG.encode(), "it looks like SVG"),
        (b"this is not a picture at all", "it looks like unknown data"),
        (image_bytes("x", 0, "TRUNCATED_PNG", 64), "it looks like a damaged PNG"),
        (b"<html><body>hi</body></html>", "it looks like HTML"),
    ],
)
def test_what_is_not_a_picture_is_refused_whatever_its_name(data: bytes, seen: str) -> None:
    message = refused("photo.png", data, "image/png")
    assert message == (
        f"photo.png is not a picture chat can read ({seen}). Attach a PNG, JPEG, WebP or GIF."
    )


def test_a_picture_over_the_size_limit_is_refused_before_it_is_decoded() -> None:
    data = picture() + b"\0" * MAX_PICTURE_BYTES
    message = refused("huge.png", data)
    assert message.startswith("huge.png is 3.") and "a picture may be at most 3.75 MB" in message


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds none: only its header is read
    before it is refused (decoding a bomb's pixels is what the limit prevents)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_picture_too_wide_or_too_large_is_refused_with_its_size() -> None:
    limit = (
        "a picture may be at most 8,000 pixels on a side and 50 million pixels in all. "
        "Attach a smaller copy."
    )
    assert refused("strip.png", picture("PNG", (8_001, 2))) == (
        f"strip.png is 8,001×2 pixels; {limit}"
    )
    assert refused("big.png", png_header(7_500, 7_500)) == f"big.png is 7,500×7,500 pixels; {limit}"
    assert refused("bomb.png", png_header(30_000, 30_000)) == (
        f"bomb.png has far too many pixels; {limit}"
    )


# --- text files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("notes.md", "text/markdown"),
        ("notes.markdown", "text/markdown"),
        ("notes.txt", "text/plain"),
        ("table.csv", "text/csv"),
    ],
)
def test_a_text_file_is_read_as_utf8(name: str, media_type: str) -> None:
    data = "\ufeffTides: high at 06:12\r\nLow at 12:30 – café\r\n".encode()
    attachment = read_attachment(name, None, data)
    assert attachment == Attachment(
        name, "text", media_type, len(data), text="Tides: high at 06:12\nLow at 12:30 – café\n"
    )


def test_text_that_is_not_utf8_is_refused_with_where() -> None:
    message = refused("latin.csv", "name,town\nRené,Brest\n".encode("latin-1"))
    assert message == (
        "latin.csv is not UTF-8 text (the bytes from position 13 are not UTF-8). "
        "Save it as UTF-8 and attach it again."
    )


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n "])
def test_an_empty_text_file_is_refused(data: bytes) -> None:
    assert refused("empty.md", data).startswith("empty.md is empty: there is no")


def test_binary_bytes_named_txt_are_refused() -> None:
    assert refused("program.txt", b"MZ\x90\x00\x03\x00") == (
        "program.txt holds binary data, not text. Attach a text file (PDF, Markdown, CSV or TXT)."
    )
    assert refused("wide.txt", "tides".encode("utf-16")) == (
        "wide.txt is UTF-16 text. Save it as UTF-8 and attach it again."
    )


def test_a_text_file_over_the_byte_limit_is_refused() -> None:
    message = refused("big.txt", b"a" * (MAX_TEXT_FILE_BYTES + 1))
    assert message == (
        "big.txt is 2.01 MB; a text file may be at most 2 MB. Attach a shorter file or an excerpt."
    )


def test_a_text_file_over_the_character_limit_is_refused() -> None:
    message = refused("long.md", ("é" * (MAX_TEXT_CHARS + 1)).encode())
    assert message == (
        "long.md has 100,001 characters of text; a file may add at most 100,000 to a message. "
        "Attach a shorter file or an excerpt."
    )
    assert read_attachment("fits.md", None, ("é" * MAX_TEXT_CHARS).encode()).text is not None


def test_a_pdf_is_read_for_its_text_page_after_page() -> None:
    data = pdf("Tides rise twice a day (mostly).", "The moon pulls the sea.")
    attachment = read_attachment("tides.pdf", "application/pdf", data)
    assert (attachment.kind, attachment.media_type, attachment.size) == (
        "text",
        "application/pdf",
        len(data),
    )
    assert attachment.text == "Tides rise twice a day (mostly).\n\nThe moon pulls the sea."
    assert attachment.data is None


def test_a_password_protected_pdf_is_refused() -> None:
    message = refused("secret.pdf", pdf("classified", user_password="hunter2"))
    assert message == (
        "secret.pdf is password-protected, so its text cannot be read. "
        "Save a copy without the password and attach that."
    )


def test_a_pdf_locked_only_against_editing_opens_without_a_password() -> None:
    data = pdf("open to read", user_password="", owner_password="owner")
    assert read_attachment("locked.pdf", None, data).text == "open to read"


def test_a_pdf_of_scanned_pages_has_no_text_to_read() -> None:
    scanned = io.BytesIO()
    Image.new("RGB", (300, 400), "white").save(scanned, format="PDF")
    message = refused("scan.pdf", scanned.getvalue())
    assert message.startswith("scan.pdf has no text to read: its pages may be scanned images.")


def test_a_damaged_pdf_is_refused() -> None:
    whole = pdf("half of this is missing")
    for data in (b"%PDF-1.7\nnot really", whole[:200]):
        assert refused("broken.pdf", data).startswith(
            "broken.pdf could not be read as a PDF (it may be damaged, or not a PDF)."
        )


def test_a_pdf_with_too_much_text_is_refused_without_reading_it_all() -> None:
    page = "tide " * 800  # 4,000 characters a page
    message = refused("book.pdf", pdf(*[page] * 30))
    assert message.startswith("book.pdf has more than 100,000 characters of text;")


# --- types, names, counts -------------------------------------------------------------------------


def test_an_unknown_type_names_what_chat_accepts() -> None:
    assert refused("report.docx", b"PK\x03\x04") == (
        f"report.docx is not a file type chat accepts {ACCEPTED}."
    )
    assert refused("noextension", b"data", "application/zip") == (
        f"noextension is not a file type chat accepts {ACCEPTED}."
    )
    # A picture renamed to an unknown extension is refused by its name, as the chooser would.
    assert refused("photo.bmp", picture(), "image/png").startswith("photo.bmp is not a file type")


def test_a_file_without_extension_goes_by_its_media_type() -> None:
    assert read_attachment("notes", "text/markdown", b"# Tides").text == "# Tides"
    assert read_attachment("camera", "image/png", picture()).kind == "image"


def test_the_chooser_offers_exactly_the_types_read() -> None:
    assert set(FILE_TYPES) == {
        "png",
        "jpg",
        "jpeg",
        "webp",
        "gif",
        "pdf",
        "md",
        "markdown",
        "txt",
        "csv",
    }


def test_names_lose_folders_and_control_characters_and_stay_short() -> None:
    assert clean_name("../../etc/passwd.txt") == "passwd.txt"
    assert clean_name("C:\\Users\\me\\notes.md") == "notes.md"
    assert clean_name("a\nb\u202e.md") == "ab.md"
    assert clean_name("\x00\n") == "file"
    long = clean_name("x" * 500 + ".md")
    assert len(long) == 120 and long.endswith("….md")
    assert read_attachment("../up/notes.md", None, b"hi").name == "notes.md"


@dataclass
class Upload:
    name: str
    type: str | None
    data: bytes
    read: int = 0

    def getvalue(self) -> bytes:
        self.read += 1
        return self.data


def test_at_most_five_files_go_with_a_message_and_none_is_read_past_that() -> None:
    uploads = [Upload(f"n{i}.txt", "text/plain", b"note") for i in range(MAX_FILES + 1)]
    with pytest.raises(InvalidRequest) as caught:
        read_uploads(uploads)
    assert str(caught.value) == (
        "6 files are attached; a message can carry at most 5. Remove some and send again."
    )
    assert [u.read for u in uploads] == [0] * 6
    check_files(uploads[:MAX_FILES])
    assert [a.text for a in read_uploads(uploads[:2])] == ["note", "note"]


# --- which models take which files ----------------------------------------------------------------


def chat_model(attachments: tuple[str, ...]) -> ModelEntry:
    return ModelEntry.model_validate(
        {
            "id": "openai/reader",
            "name": "Reader",
            "provider": "openai",
            "kind": "chat",
            "litellm_model": "openai/reader",
            "context_window": 8192,
            "max_output_tokens": 1024,
            "attachments": attachments,
        }
    )


PHOTO = Attachment("photo.png", "image", "image/png", 10, data=b"x")
NOTES = Attachment("notes.md", "text", "text/markdown", 5, text="notes")


def test_a_model_refuses_the_files_it_does_not_take_naming_what_it_takes() -> None:
    check_accepts(chat_model(("image", "text")), [PHOTO, NOTES])
    check_accepts(chat_model(()), [])
    with pytest.raises(InvalidRequest) as caught:
        check_accepts(chat_model(("text",)), [NOTES, PHOTO])
    assert str(caught.value) == (
        "Reader takes only text files (PDF, Markdown, CSV, TXT), so it cannot be sent photo.png. "
        "Remove it, or choose a model that takes pictures (PNG, JPEG, WebP, GIF)."
    )
    with pytest.raises(InvalidRequest) as caught:
        check_accepts(chat_model(()), [NOTES, PHOTO])
    assert str(caught.value) == (
        "Reader takes no attached files, so it cannot be sent notes.md, photo.png. Remove them, "
        "or choose a model that takes pictures (PNG, JPEG, WebP, GIF) and text files "
        "(PDF, Markdown, CSV, TXT)."
    )


# --- what the gateway is sent ---------------------------------------------------------------------


def test_without_files_the_content_is_the_text_itself() -> None:
    assert user_content("Tell me about tides", ()) == "Tell me about tides"


def test_files_go_first_named_then_the_typed_text() -> None:
    photo = read_attachment("photo.png", None, picture())
    notes = read_attachment("notes.md", None, b"# Tides\n```\ncode\n```\n````x")
    parts = user_content("What do these show?", [photo, notes])
    assert isinstance(parts, list)
    assert parts[0] == {"type": "text", "text": f"{PICTURE_LABEL}photo.png"}
    url = parts[1]["image_url"]["url"]
    assert parts[1]["type"] == "image_url" and url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.partition(",")[2]) == photo.data
    # The fence is longer than any run of backticks in the file, so the file cannot close it.
    assert parts[2] == {
        "type": "text",
        "text": f"{FILE_LABEL}notes.md\n`````\n# Tides\n```\ncode\n```\n````x\n`````",
    }
    assert parts[3] == {"type": "text", "text": "What do these show?"}
    assert len(parts) == 4


def test_files_without_typed_text_are_the_whole_message() -> None:
    notes = read_attachment("notes.txt", None, b"low tide at noon")
    assert user_content("  ", [notes]) == [
        {"type": "text", "text": f"{FILE_LABEL}notes.txt\n```\nlow tide at noon\n```"}
    ]
