"""Generated images over the app's own route, to their owner, the workspace's admins and
operators only; everyone else (signed out, a made-up token, another member) gets the same 404 as
an image that does not exist, and downloads are named without internal ids."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser_harness import ADMIN, MEMBER, AppServer, app_fixture, http_session_token

app = app_fixture()

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def image_path(app: AppServer) -> str:
    app.cli("gateway", "image", "a lighthouse at dusk", "--user", MEMBER)
    [folder] = [p for p in (app.workdir / "images").iterdir() if p.is_dir()]
    return f"/files/images/{int(folder.name)}/0"


def get(app: AppServer, path: str, token: str | None = None) -> httpx.Response:
    cookies = {"workbench_session": token} if token else None
    return httpx.get(f"{app.url}{path}", cookies=cookies, timeout=30)


def test_the_owner_and_the_workspace_admin_get_the_bytes(app: AppServer, image_path: str) -> None:
    for user in (MEMBER, ADMIN):
        answer = get(app, image_path, http_session_token(app, user))
        assert answer.status_code == 200, user
        assert answer.content.startswith(PNG_MAGIC)
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["cache-control"] == "private, max-age=300"
        assert "content-disposition" not in answer.headers


def test_anyone_else_gets_the_same_404_as_a_missing_image(app: AppServer, image_path: str) -> None:
    app.cli("auth", "add-user", "bystander", "demo", stdin="bystander-password-1")
    bystander = http_session_token(app, "bystander", "bystander-password-1")
    hold_id = int(image_path.split("/")[3])
    answers = [
        get(app, image_path),  # signed out
        get(app, image_path, "not-a-real-token"),
        get(app, image_path, bystander),  # a member, but not the owner
        get(app, f"/files/images/{hold_id}/7", http_session_token(app, MEMBER)),  # no such image
        get(app, f"/files/images/{hold_id + 1000}/0", http_session_token(app, MEMBER)),
    ]
    assert [(a.status_code, a.text) for a in answers] == [(404, "No such image.")] * 5


def test_a_download_is_named_by_day_and_place_not_by_internal_id(
    app: AppServer, image_path: str
) -> None:
    answer = get(app, f"{image_path}?download=1", http_session_token(app, MEMBER))
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert re.fullmatch(
        r'attachment; filename="workbench-image-\d{4}-\d\d-\d\d-1\.png"', disposition
    )
