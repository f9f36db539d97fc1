"""What the Images page says: counts of images in words ("1 image", "2 images"), the line under a
call in the gallery, a prompt cut to its start, and the sentences after generating or deleting.
Anything a person typed (a prompt, a name) is escaped here or left for ``st.text``/``st.code``."""

from __future__ import annotations

from workbench.gateway.results import ImageResult
from workbench.images.gallery import GalleryCall
from workbench.ui.messages import credits, escape_markdown
from workbench.ui.session import SignedIn

# A gallery card shows at most this much of a prompt; the whole of it is one click away.
PROMPT_CHARS = 160
PROMPT_LINES = 3
ELLIPSIS = "…"


def images_count(count: int) -> str:
    """ "1 image", "2 images", "0 images"."""
    return f"{count:,} image" if count == 1 else f"{count:,} images"


def cut_prompt(prompt: str) -> tuple[str, bool]:
    """The start of ``prompt`` for a gallery card (its first lines, at most ``PROMPT_CHARS``
    characters, cut at a space where one is near the end), and whether anything was left out."""
    lines = prompt.splitlines()
    if len(lines) <= PROMPT_LINES and len(prompt) <= PROMPT_CHARS:
        return prompt, False
    short = "\n".join(lines[:PROMPT_LINES])[:PROMPT_CHARS]
    space = short.rfind(" ")
    if space > PROMPT_CHARS // 2:
        short = short[:space]
    return short.rstrip() + ELLIPSIS, True


def made_line(call: GalleryCall, who: SignedIn) -> str:
    """ "2 images · 2026-05-01 14:03 UTC", and for an admin who made them."""
    line = f"{images_count(len(call.images))} · {call.made_at.strftime('%Y-%m-%d %H:%M')} UTC"
    if not who.is_admin:
        return line
    return f"{line} · by {maker_name(call, who)}"


def maker_name(call: GalleryCall, who: SignedIn) -> str:
    """ "you", or "Mia Member (mia)": escaped, both names are typed by people."""
    if call.maker.id == who.user.id:
        return "you"
    username = escape_markdown(call.maker.username)
    if not call.maker.display_name.strip():
        return username
    return f"{escape_markdown(call.maker.display_name)} ({username})"


def generated(result: ImageResult) -> str:
    """The toast after a Generate: the gateway's own sentence when it has one (fewer images
    than asked), else how many images for how much."""
    if result.message:
        return escape_markdown(result.message)
    return f"{images_count(len(result.images))} for {credits(result.credits)}."


def delete_question(count: int) -> str:
    """The confirmation asked before deleting a call's images."""
    if count == 1:
        return (
            "Delete this image for good? It cannot be brought back; what it cost stays in the "
            "usage history."
        )
    return (
        f"Delete these {images_count(count)} for good? They cannot be brought back; what they "
        "cost stays in the usage history."
    )


def deleted(count: int) -> str:
    return f"{images_count(count)} deleted." if count else "Those images were already deleted."
