"""The blocks of a model's reply as CommonMark reads them (a port of commonmark.js's block parser,
with GitHub's tables), for ``workbench.chat.reply_markdown``: which lines are code, and the inline
runs (paragraphs, headings, table rows) whose text must be escaped. Also what both modules share:
the work budget and a region of inline text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.chat.markdown_table_rows import (
    DELIMITER_ROW,
    delimiter_cells,
    head_cells,
)

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


class TooMuchWork(Exception):
    """The reply is built to make reading it slow: escape everything instead."""


@dataclass
class Budget:
    left: int

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise TooMuchWork


@dataclass
class Region:
    """Text the renderer parses as one inline run: a paragraph's lines, a heading, a table row.
    ``segments`` are (line number, column where the text starts in that line)."""

    kind: str  # "text" | "row"
    segments: list[tuple[int, int]]


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
class Layout:
    roles: list[str]  # per line: "code" (kept), "text" (in a region), "plain", "blank"
    regions: list[Region]
    kills: list[tuple[int, int]]  # (line, column) of a table delimiter row to break


class Blocks:
    """Reads a reply's lines into blocks as commonmark.js does (same cursor, same order of block
    starts, same container matching and lazy lines), plus GitHub's tables; records each line's
    role and the inline runs (paragraphs, headings, table rows) to escape."""

    def __init__(self, lines: list[str], budget: Budget) -> None:
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

    def read(self) -> Layout:
        for number, line in enumerate(self.lines):
            self.budget.spend(8)
            self._line(number, line)
        regions: list[Region] = []
        for node in self.nodes:
            if node.kind in ("paragraph", "heading") and node.lines:
                regions.append(Region("text", [(n, c) for n, c, *_ in node.lines]))
            elif node.kind == "table":
                # The delimiter row (second) holds no text; every other row is read by cells.
                for k, (n, c, *_rest) in enumerate(node.lines):
                    if k != 1:
                        regions.append(Region("row", [(n, c)]))
        return Layout(self.roles, regions, self.kills)

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
            and DELIMITER_ROW.match(rest)
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
        cells = head_cells(head)
        if cells is None or cells != delimiter_cells(delimiter):
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
