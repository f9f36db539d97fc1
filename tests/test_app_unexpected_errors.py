"""A page that fails in a way nobody planned for shows one plain sentence with a reference, never
a traceback; the traceback goes to the server log under that reference, and the rest of the app
(the sidebar, the navigation) keeps working. The sign-in page is run the same way."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.amounts import format_credits
from ledger.service import Ledger
from tests.app_harness import (
    CREDITS,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    sidebar_text,
)

SECRET_DETAIL = "disk /var/lib/secret-volume is on fire"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def test_a_failing_page_shows_a_sentence_and_logs_the_traceback(
    env: AppEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_history(self: Ledger, account_id: int, **filters: Any) -> None:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(Ledger, "history", broken_history)
    caplog.set_level(logging.ERROR, logger="workbench.pages")
    before = env.available()

    at = env.signed_in(env.member, CREDITS)

    assert_no_exception(at)
    [error] = at.error
    match = re.search(r"reference ([0-9a-f]{8})", error.value)
    assert match, error.value
    assert error.value.startswith("Something went wrong on this page and it has been logged.")
    shown = all_text(at)
    assert SECRET_DETAIL not in shown and "Traceback" not in shown and "RuntimeError" not in shown
    # What ran before the failure is still there, and so is the sidebar.
    assert [t.value for t in at.title] == ["My credits"]
    assert f"Credits available: {format_credits(before)}" in sidebar_text(at)
    # The server log has the traceback, findable by the reference shown.
    [record] = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert record.exc_info is not None and SECRET_DETAIL in str(record.exc_info[1])
    assert env.available() == before and env.holds() == []


def test_the_next_run_works_again(env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as broken:
        broken.setattr(Ledger, "history", lambda *a, **k: 1 / 0)
        at = env.signed_in(env.member, CREDITS)
        assert len(at.error) == 1
    at.run()
    assert_no_exception(at)
    assert at.error == []
    assert "History" in [s.value for s in at.subheader]
