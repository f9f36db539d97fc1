"""Bad retention settings get one clear line (which variable, what it accepts, what it got) and
exit status 2, before the database is even opened: nothing is removed or written. With no
retention set, ``workbench purge`` says so and keeps everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.retention_harness import files_under, open_world, real_now, snapshot
from workbench.cli import main
from workbench.retention.policy import Policy, RetentionError
from workbench.retention.purge import run

KINDS = {"CONVERSATION": "conversations", "IMAGE": "images", "USAGE": "usage"}
BAD = ["0", "-3", "abc", "1.5", "36501", ""]


def purge(db_url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["--database-url", db_url, "purge", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_bad_days_are_refused_in_one_line_and_change_nothing(
    ledger: Ledger,
    clock: FakeClock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = open_world(ledger, clock, db_url, tmp_path, monkeypatch)
    before, files = snapshot(ledger), files_under(world.image_root)
    for name, kind in KINDS.items():
        variable = f"WORKBENCH_RETENTION_{name}_DAYS"
        for others in KINDS:  # every other kind set: the bad one alone stops the purge
            monkeypatch.setenv(f"WORKBENCH_RETENTION_{others}_DAYS", "1")
        for value in BAD:
            monkeypatch.setenv(variable, value)
            for args in ((), ("--dry-run",)):
                status, out, err = purge(db_url, capsys, *args)
                assert (status, out) == (2, ""), (variable, value)
                assert err.splitlines() == [
                    f"workbench: error: {variable} must be a whole number of days from 1 to "
                    f"36,500 (leave it unset to keep {kind} forever), got {value!r}"
                ]
        monkeypatch.delenv(variable)
    assert snapshot(ledger) == before
    assert files_under(world.image_root) == files


def test_a_bad_setting_opens_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "never.db"
    monkeypatch.setenv("WORKBENCH_RETENTION_USAGE_DAYS", "0")
    assert purge(f"sqlite:///{db_file}", capsys)[0] == 2
    assert not db_file.exists()


def test_no_retention_set_keeps_everything(
    ledger: Ledger,
    clock: FakeClock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in KINDS:
        monkeypatch.delenv(f"WORKBENCH_RETENTION_{name}_DAYS", raising=False)
    world = open_world(ledger, clock, db_url, tmp_path, monkeypatch)
    before, files = snapshot(ledger), files_under(world.image_root)
    status, out, err = purge(db_url, capsys)
    assert (status, err) == (0, "")
    assert out.startswith("Nothing to purge: no retention is set")
    assert snapshot(ledger) == before
    assert files_under(world.image_root) == files


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-size", "0"], "'0' must be greater than zero"),
        (["--batch-size", "100001"], "'100001' is more than 100,000"),
        (["--batch-size", "many"], "'many' is not a whole number"),
    ],
)
def test_a_bad_batch_size_is_one_line(
    args: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "never.db"
    status, out, err = purge(f"sqlite:///{db_file}", capsys, *args)
    assert (status, out) == (2, "")
    (line,) = err.splitlines()
    assert says in line and "--help" in line
    assert not db_file.exists()


@pytest.mark.parametrize(
    "days",
    [{"usage_days": 0}, {"image_days": -1}, {"conversation_days": True}, {"usage_days": 1.5}],
)
def test_the_library_refuses_bad_days_too(days: dict[str, object]) -> None:
    with pytest.raises(RetentionError, match="must be a whole number of days from 1 to 36,500"):
        Policy(**days)  # type: ignore[arg-type]


def test_the_library_refuses_a_bad_batch_size(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(RetentionError, match="batch size must be a whole number"):
        run(ledger.engine, tmp_path, Policy(usage_days=1), real_now(), dry_run=True, batch_size=0)
