"""The other two sign-in modes: ``oidc`` (``st.user``, seeded through ``AppTest.user``) and
``proxy`` (a header from a trusted reverse proxy). AppTest cannot seed request headers, so the
proxy tests stand in for the session's client context; the header is honoured only in proxy
mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import streamlit.runtime.context as st_context

from tests.app_harness import AppEnv, all_text, app_env, assert_no_exception, sidebar_text
from workbench.ui.session import SESSION_KEY
from workbench.web.identity import COOKIE


def send_headers(
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    cookies: dict[str, str] | None = None,
) -> None:
    """Make ``st.context.headers`` (and ``.cookies``) read these, as if the browser's request
    had them."""
    client = SimpleNamespace(headers=list(headers.items()), cookies=cookies or {})
    monkeypatch.setattr(st_context, "_get_client_context", lambda: client)


@pytest.fixture
def oidc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, auth_mode="oidc") as opened:
        yield opened


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, auth_mode="proxy") as opened:
        yield opened


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def test_oidc_logged_out_sees_the_company_sign_in_button(oidc: AppEnv) -> None:
    at = oidc.app()
    at.user = {"is_logged_in": False}
    at.run()
    assert_no_exception(at)
    assert [b.label for b in at.button] == ["Sign in with your company account"]
    assert at.text_input == []
    assert sidebar_text(at) == ""


def test_oidc_matches_the_person_by_email(oidc: AppEnv) -> None:
    at = oidc.app()
    at.user = {"is_logged_in": True, "email": "ada@example.com", "name": "Ada"}
    at.run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Chat"]
    assert "**Ada Admin** · admin" in sidebar_text(at)


def test_oidc_falls_back_to_the_username_claim(oidc: AppEnv) -> None:
    at = oidc.app()
    at.user = {"is_logged_in": True, "email": "unknown@example.com", "preferred_username": "mia"}
    at.run()
    assert [t.value for t in at.title] == ["Chat"]
    assert "**Mia Member** · member" in sidebar_text(at)


def test_oidc_does_not_take_the_display_name_for_a_username(oidc: AppEnv) -> None:
    """The ``name`` claim is a display name (often editable by the person at the identity
    provider), not an identifier: a company account named "ada" that is not Ada's email or
    username must not be signed in as the user ``ada`` (an admin)."""
    at = oidc.app()
    at.user = {"is_logged_in": True, "email": "eve@example.com", "name": "ada"}
    at.run()
    assert_no_exception(at)
    assert "Ada Admin" not in sidebar_text(at)
    assert [t.value for t in at.title] != ["Chat"]


def test_oidc_ignores_a_session_state_user_id(oidc: AppEnv) -> None:
    """The local sign-in's session key means nothing in oidc mode."""
    at = oidc.app()
    at.user = {"is_logged_in": False}
    at.session_state[SESSION_KEY] = oidc.sign_in_session(oidc.admin)
    at.run()
    assert [b.label for b in at.button] == ["Sign in with your company account"]
    assert "Ada Admin" not in sidebar_text(at)


def test_proxy_signs_in_the_user_the_header_names(
    proxy: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_headers(monkeypatch, {"X-Forwarded-User": "mia"})
    at = proxy.app().run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Chat"]
    assert "**Mia Member** · member" in sidebar_text(at)


def test_proxy_without_the_header_says_the_sign_in_did_not_arrive(proxy: AppEnv) -> None:
    at = proxy.app().run()
    assert_no_exception(at)
    assert len(at.error) == 1
    assert "no user header from the proxy" in at.error[0].value
    assert at.text_input == []
    assert sidebar_text(at) == ""


def test_proxy_with_an_unknown_user_signs_nobody_in(
    proxy: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_headers(monkeypatch, {"X-Forwarded-User": "mallory"})
    at = proxy.app().run()
    assert "no user header from the proxy" in at.error[0].value
    assert sidebar_text(at) == ""


def test_a_forged_proxy_header_is_ignored_in_local_mode(
    local: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_headers(monkeypatch, {"X-Forwarded-User": "ada"})
    at = local.app().run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Sign in to the workbench"]
    assert "Ada Admin" not in all_text(at)
    assert sidebar_text(at) == ""


def test_the_session_cookie_signs_a_new_tab_in_and_only_while_it_lives(
    local: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, session = local.svc.web_sessions.open(local.admin.id, None, "test")
    send_headers(monkeypatch, {}, cookies={COOKIE: token})
    at = local.app().run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Chat"]
    assert at.session_state[SESSION_KEY] == session.id
    local.svc.web_sessions.revoke(session.id)
    fresh = local.app().run()  # a new tab with the same, now dead, cookie
    assert [t.value for t in fresh.title] == ["Sign in to the workbench"]
    assert sidebar_text(fresh) == ""
