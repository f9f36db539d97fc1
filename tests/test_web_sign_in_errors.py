"""A sign-in that breaks inside (the database, a bug) answers one plain sentence, logs the detail
and sets no cookie. In-process, on the real routes and a real database: the fault has to be
planted in the server's own code, which a separate server process would not let a test do."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ledger.service import Ledger
from tests.app_harness import MEMBER_PASSWORD, AppEnv, app_env
from workbench.auth.local_logins import LocalLogins
from workbench.web import sign_in_routes

SECRET_DETAIL = "disk /var/lib/secret-volume is on fire"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def test_a_failing_sign_in_shows_a_sentence_and_logs_the_detail(
    env: AppEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: LocalLogins, ledger: Ledger, *args: object, **kwargs: object) -> None:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(LocalLogins, "sign_in", broken)
    caplog.set_level(logging.ERROR, logger="workbench.web")
    with TestClient(Starlette(routes=sign_in_routes.routes())) as client:
        answer = client.post(
            "/auth/sign-in",
            data={"username": env.member.username, "password": MEMBER_PASSWORD, "next": "/"},
            follow_redirects=False,
        )
    assert answer.status_code == 500
    assert sign_in_routes.BROKEN in answer.text
    assert SECRET_DETAIL not in answer.text
    assert "set-cookie" not in answer.headers
    assert any(r.exc_info and SECRET_DETAIL in str(r.exc_info[1]) for r in caplog.records)
