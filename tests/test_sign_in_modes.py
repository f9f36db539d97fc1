"""The three sign-in modes decide who is signed in: the proxy's header counts only in proxy mode,
OIDC matches by email then username, local uses the session's own state; unknown people and people
without a workspace get nothing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import seed
from workbench.bootstrap import Services, open_services
from workbench.config import Settings
from workbench.ui import session
from workbench.web.identity import COOKIE


class FakeUser(dict[str, Any]):
    """Stands in for ``st.user``: a mapping of OIDC claims plus ``is_logged_in``."""

    @property
    def is_logged_in(self) -> bool:
        return bool(self)


def services_for(tmp_path: Path, mode: str) -> Services:
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        auth_mode=mode,  # type: ignore[arg-type]
        image_dir=tmp_path / "images",
    )
    return open_services(config)


def fake_streamlit(
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
    cookies: dict[str, str] | None = None,
) -> None:
    fake = SimpleNamespace(
        context=SimpleNamespace(headers=headers or {}, cookies=cookies or {}),
        user=FakeUser(claims or {}),
        session_state=state if state is not None else {},
    )
    monkeypatch.setattr(session, "st", fake)


@pytest.fixture
def people(tmp_path: Path) -> tuple[Path, int]:
    book = Ledger.open(f"sqlite:///{tmp_path / 'app.db'}")
    s = seed(book, credits(100), "team")
    book.create_user("loner")  # a user in no workspace
    book.close()
    return tmp_path, s.member_id


def test_the_proxy_header_counts_only_in_proxy_mode(
    people: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path, member_id = people
    header = {"X-Forwarded-User": "team-member"}
    fake_streamlit(monkeypatch, headers=header)
    proxy = services_for(tmp_path, "proxy")
    who = session.current(proxy)
    assert who is not None and who.user.id == member_id and not who.is_admin
    for mode in ("local", "oidc"):
        fake_streamlit(monkeypatch, headers=header)
        assert session.current(services_for(tmp_path, mode)) is None


def test_unknown_and_workspaceless_people_get_nothing(
    people: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path, _ = people
    proxy = services_for(tmp_path, "proxy")
    fake_streamlit(monkeypatch, headers={"X-Forwarded-User": "stranger"})
    assert session.current(proxy) is None
    fake_streamlit(monkeypatch, headers={"X-Forwarded-User": "loner"})
    with pytest.raises(session.NoWorkspace):
        session.current(proxy)


def test_oidc_matches_by_email_then_username(
    people: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path, member_id = people
    oidc = services_for(tmp_path, "oidc")
    fake_streamlit(monkeypatch, claims={})
    assert session.current(oidc) is None  # not logged in with the identity provider
    fake_streamlit(
        monkeypatch, claims={"email": "nobody@x.test", "preferred_username": "team-member"}
    )
    who = session.current(oidc)
    assert who is not None and who.user.id == member_id


def test_local_mode_reads_only_its_own_sign_in_session(
    people: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path, member_id = people
    local = services_for(tmp_path, "local")
    fake_streamlit(monkeypatch, state={})
    assert session.current(local) is None
    fake_streamlit(monkeypatch, cookies={COOKIE: "a-token-nobody-was-given"})
    assert session.current(local) is None
    token, opened = local.web_sessions.open(member_id, None, "test")
    state: dict[str, Any] = {}
    fake_streamlit(monkeypatch, state=state, cookies={COOKIE: token})
    who = session.current(local)
    assert who is not None and who.workspace.slug == "team"
    assert state == {session.SESSION_KEY: opened.id}  # the id, never the token
    # Later runs go by the id; a revoked session is over even with the cookie still sent.
    local.web_sessions.revoke(opened.id)
    assert session.current(local) is None
    assert state == {}
