"""Reading a GitHub table's rows in a model's reply, for ``markdown_blocks``: the delimiter row,
how many cells a head or delimiter row has, and whether a character (a pipe, a bracket) is
backslash-escaped, which ``reply_markdown`` asks too."""

from __future__ import annotations

import re

DELIMITER_ROW = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def escaped_at(text: str, index: int) -> bool:
    """Whether the character at ``index`` is escaped (an odd run of backslashes before it)."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def split_cells(row: str) -> list[str]:
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


def head_cells(row: str) -> int | None:
    """How many cells GitHub counts in a table's head row (None: it cannot be one)."""
    stripped = row.strip(" \t")
    if not stripped or stripped == "|":
        return None
    cells = split_cells(stripped)
    if stripped.startswith("|"):
        cells = cells[1:]
    if len(cells) > 1 and stripped.endswith("|") and not escaped_at(stripped, len(stripped) - 1):
        cells = cells[:-1]
    return len(cells)


def delimiter_cells(row: str) -> int:
    stripped = row.strip(" \t")
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|"):
        stripped = stripped[:-1]
    return len(stripped.split("|"))
