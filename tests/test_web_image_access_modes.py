"""The image route in the other sign-in modes, in-process on the real route and database: behind
a trusted proxy its header says who asks (as it does for the pages); under OIDC the route cannot
tell (``st.login``'s cookie is Streamlit's), so it serves nobody and the Images page sends the
bytes through Streamlit instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.app_harness import AppEnv, app_env, button
from workbench.gateway.caller import Caller
from workbench.web import image_routes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_image(env: AppEnv) -> str:
    caller = Caller(env.member.id, env.workspace.id, env.workspace.account_id)
    result = env.svc.gateway.generate_images(caller, "a lighthouse", key="img-modes-1")
    assert result.hold_id is not None
    return image_routes.image_path(result.hold_id, 0)


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, auth_mode="proxy") as opened:
        yield opened


@pytest.fixture
def oidc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, auth_mode="oidc") as opened:
        yield opened


def test_behind_the_proxy_its_header_says_who_asks(proxy: AppEnv) -> None:
    path = make_image(proxy)
    with TestClient(Starlette(routes=image_routes.routes())) as client:

        def as_user(name: str | None) -> int:
            headers = {"X-Forwarded-User": name} if name else {}
            return client.get(path, headers=headers).status_code

        owner = client.get(path, headers={"X-Forwarded-User": proxy.member.username})
        assert owner.status_code == 200 and owner.content.startswith(PNG_MAGIC)
        assert as_user(proxy.admin.username) == 200
        assert [as_user(None), as_user(proxy.other.username), as_user("nobody")] == [404] * 3


def test_under_oidc_the_route_serves_nobody_and_the_page_sends_the_bytes(oidc: AppEnv) -> None:
    path = make_image(oidc)
    with TestClient(Starlette(routes=image_routes.routes())) as client:
        assert client.get(path).status_code == 404
    at = oidc.app()
    # Matched by the identity provider's username (the harness's people have no email).
    at.user = {"is_logged_in": True, "preferred_username": oidc.member.username}
    at.run()
    at.switch_page("../../pages/images.py").run()
    assert len(at.image) == 1
    [download] = at.download_button
    assert download.label == "Download"
    assert button(at, "Generate") is not None
