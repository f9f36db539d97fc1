"""Replies built to hide an image from a Markdown sanitiser: the pieces CommonMark, GitHub's
extensions, math and directives give meaning to (containers, fences, tables, HTML, link
destinations, bare links, code spans, escapes), put together at random, each with images pointing
at a given host. Shared by the sanitiser's unit tests (hypothesis draws from the same pieces) and
the browser test that renders a corpus in the real app and counts requests to that host."""

from __future__ import annotations

import itertools
import random
import re

# What may start a line: nothing, quotes, list markers, indentation (tabs too).
PREFIXES = (
    "", "", "", "> ", "- ", "1. ", "  ", "    ", "   ", "\t", "2) ", "* ", ">", "- > ", "> - ",
    "  - ", "1.  ", "-    ", " > ", "> > ", "\t- ", " \t", "-\t", "> \t", "1.\t", "     ",
    "      ", "10. ", ">>", "> 1. ", "- - ", "  > ",
)  # fmt: skip
# Line bodies; {img} becomes an image URL on the watched host.
BODIES = (
    "```", "~~~", "````", "```js", "$$", ":::x", "<div>", "| a | b |", "|---|---|", "| - |",
    "a | b", "--|--", "---", "===", "text", "more text", "[r]: {img}", "[^n]: ![]({img})",
    "![]({img})", "![x][r]", "`", "``", "<img src={img}>", "http://a/`", '[a](x` "t")',
    '[a](x "`")', "www.a.bc/`", ':x{a="`"}', "$`$", "# h `", "    ```", "- ```", "", "`code`",
    "``a`b``", "\\`", "![a](<{img}>)", "[![i]({img})](http://x)", "<{img}>", "&#96;", "*",
    "1. ```", "> ```", "<!-- x -->", "<script>", '![]({img} "title")', "![x]({img})`",
    "`![x]({img})`", "<https://x/`>", "[^n]", "\\", "~~~~", "  ```", '](x "', '")', "[a](", "x)",
    "[a](<x", "> y)", "a\t|\tb", "-\t|-", ":-", "|", "||", "|-|", "``` `", "```\t", "\t```",
    "<!--", "-->", "$$ x", "::x", "[x]:", " ![y][x]", "***", "___", "# ```", "#\t`", "[![a]",
    "](y)", "\\\\`", "a\\\\", "`a\\\\`", "http://x](y `", "www.x.y", "`![]({img})",
    "\\\\![]({img})", "!\\\\[]({img})", "!![]({img})", "<", ">",
)  # fmt: skip
# Every reply ends with an image after whatever came before tried to make it look like code.
ENDINGS = ("![]({img})", "`![]({img})`", "x ![]({img}) `")


def line(rng: random.Random) -> str:
    body = rng.choice(BODIES)
    if rng.random() < 0.4:
        body += " " + rng.choice(BODIES)
    if rng.random() < 0.2:
        body += rng.choice(BODIES)
    # Containers nest: up to three prefixes (a quote in a list item in a quote...).
    return "".join(rng.choice(PREFIXES) for _ in range(rng.choice((1, 1, 2, 3)))) + body


def reply(rng: random.Random, image_base: str, name: str) -> str:
    """One adversarial reply; its images are ``{image_base}/{name}-{n}``."""
    lines = [line(rng) for _ in range(rng.randint(2, 10))] + [rng.choice(ENDINGS)]
    numbers = itertools.count()
    return re.sub(r"\{img\}", lambda _: f"{image_base}/{name}-{next(numbers)}", "\n".join(lines))


def corpus(seed: int, size: int, image_base: str) -> list[str]:
    rng = random.Random(seed)
    return [reply(rng, image_base, f"r{n}") for n in range(size)]
