"""``workbench``: one program whose every group and command answers ``--help`` (opening no
database), and whose argument errors are one line with exit status 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from workbench.cli import cli, main


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


PATHS = list(command_paths(cli))


def test_the_groups_the_issue_names_exist() -> None:
    assert {"run", "ledger", "auth", "gateway", "prices", "usage"} <= {p[0] for p in PATHS}


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda p: " ".join(p) or "workbench")
def test_every_command_has_help(
    path: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "never.db"
    assert main(["--database-url", f"sqlite:///{db_file}", *path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: workbench {' '.join(path)}".rstrip())
    assert not db_file.exists(), "--help must not open a database"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nonsense"], "No such command 'nonsense'"),
        (["ledger", "grant", "demo"], "Missing argument 'AMOUNT'"),
        (["run", "--port", "http"], "'http' is not a whole number"),
        (["ledger", "history", "demo", "--kind", "gift"], "'gift' is not one of"),
    ],
)
def test_bad_arguments_are_one_line(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "--help" in lines[0], captured.err
    assert captured.out == ""
