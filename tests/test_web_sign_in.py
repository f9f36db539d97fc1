"""Local sign-in over real HTTP against a running app: the gate in front of every page, the form,
the session cookie's attributes, where a sign-in lands, cross-site posts, and throttling with its
log lines. (The throttle's and the sessions' own rules, on both backends, are in
tests/test_sign_in_throttle.py and tests/test_web_sessions.py.)"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from tests.browser_harness import ADMIN, MEMBER, AppServer, app_fixture

app = app_fixture()

SIGN_IN = "/auth/sign-in"
WRONG = "That username and password do not match."


@pytest.fixture
def client(app: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, follow_redirects=False, timeout=30) as http:
        yield http


def post_sign_in(
    client: httpx.Client, username: str, password: str, next_path: str = "/", **headers: str
) -> httpx.Response:
    return client.post(
        SIGN_IN,
        data={"username": username, "password": password, "next": next_path},
        headers=headers,
    )


def session_rows(app: AppServer) -> list[dict[str, object]]:
    engine = sa.create_engine(app.env["WORKBENCH_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM web_sessions")).mappings().all()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def test_every_page_url_without_a_session_goes_to_the_form_and_back(
    app: AppServer, client: httpx.Client
) -> None:
    for path in ("/", "/chat", "/credits", "/usage?days=7"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        target = urlsplit(answer.headers["location"])
        assert target.path == SIGN_IN
        assert parse_qs(target.query)["next"] == [path]
    # Assets, the health check and the form itself are not pages: they pass.
    assert client.get("/_stcore/health").status_code == 200
    form = client.get(f"{SIGN_IN}?next=/credits")
    assert form.status_code == 200
    assert 'name="next" value="/credits"' in form.text
    assert form.headers["cache-control"] == "no-store"


def test_a_right_password_sets_an_httponly_lax_cookie_and_lands_on_the_page(
    app: AppServer, client: httpx.Client
) -> None:
    before = len(session_rows(app))
    answer = post_sign_in(client, MEMBER, app.member_password, "/credits")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/credits"
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP here; see the next test
    assert re.search(r"max-age=604800\b", cookie.lower())  # the 7-day default lifetime
    token = cookie.split(";")[0].split("=", 1)[1]
    rows = session_rows(app)
    assert len(rows) == before + 1
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert token not in stored  # only a hash of it is kept
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    # With the cookie, the page is served (Streamlit's own HTML), and the form sends it on.
    signed_in = httpx.Client(base_url=app.url, cookies={"workbench_session": token})
    with signed_in:
        assert signed_in.get("/credits").status_code == 200
        again = signed_in.get(f"{SIGN_IN}?next=/usage", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == "/usage"


def test_over_https_the_cookie_is_secure(app: AppServer, client: httpx.Client) -> None:
    answer = post_sign_in(client, ADMIN, app.admin_password, **{"X-Forwarded-Proto": "https"})
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("asked", "user", "lands"),
    [
        ("https://evil.example/", MEMBER, "/"),
        ("//evil.example/chat", MEMBER, "/"),
        ("/no-such-page", MEMBER, "/"),
        ("/admin_credits", MEMBER, "/"),  # not for members: the default page, no dialog
        ("/admin_credits", ADMIN, "/admin_credits"),
        ("/usage?days=7", MEMBER, "/usage?days=7"),
    ],
)
def test_a_sign_in_lands_only_on_a_page_of_this_app_the_role_may_open(
    app: AppServer, client: httpx.Client, asked: str, user: str, lands: str
) -> None:
    answer = post_sign_in(client, user, app.password(user), asked)
    assert answer.status_code == 303
    assert answer.headers["location"] == lands


def test_a_post_from_another_site_is_refused_before_anything_is_checked(
    app: AppServer, client: httpx.Client
) -> None:
    before = session_rows(app)
    answer = post_sign_in(client, MEMBER, app.member_password, Origin="http://evil.example:8080")
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers
    assert session_rows(app) == before


def test_wrong_passwords_are_throttled_logged_and_never_say_whether_the_name_exists(
    app: AppServer, client: httpx.Client
) -> None:
    before = session_rows(app)
    secret = "hunter2-not-it"

    def attempts(username: str, password: str, count: int) -> list[tuple[int, str]]:
        answers = [post_sign_in(client, username, password) for _ in range(count)]
        assert all("set-cookie" not in a.headers for a in answers)
        return [(a.status_code, problem(a.text)) for a in answers]

    app.cli("auth", "add-user", "locked_out_member", "demo", stdin="a-right-password-1")
    known = attempts("locked_out_member", secret, 5)
    unknown = attempts("nobody_at_all", secret, 5)
    assert known[:4] == [(401, WRONG)] * 4

    # The fifth failure locks the name and says so, alike whether or not the name exists. The
    # two lockouts start moments apart, so their "until" may straddle a minute: compare the
    # answers with the time masked.
    def masked(answers: list[tuple[int, str]]) -> list[tuple[int, str]]:
        return [(status, re.sub(r"\d\d:\d\d UTC", "HH:MM UTC", text)) for status, text in answers]

    assert masked(known) == masked(unknown)
    assert known[4][0] == 429 and known[4][1].startswith("Too many failed sign-ins.")
    # The next try is refused even with the right password, and says until when.
    for username, password in (
        ("locked_out_member", "a-right-password-1"),
        ("nobody_at_all", secret),
    ):
        answer = post_sign_in(client, username, password)
        assert answer.status_code == 429
        assert re.fullmatch(
            r"Too many failed sign-ins\. Try again after \d\d:\d\d UTC\.", problem(answer.text)
        )
    assert session_rows(app) == before
    log = app.output()
    assert re.search(r"locked_out_member.*127\.0\.0\.1|127\.0\.0\.1.*locked_out_member", log)
    assert "nobody_at_all" in log
    assert secret not in log and "a-right-password-1" not in log


def problem(html: str) -> str:
    found = re.search(r'<p class="problem" role="alert">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def test_surrounding_spaces_in_the_username_are_ignored(
    app: AppServer, client: httpx.Client
) -> None:
    answer = post_sign_in(client, f"  {MEMBER} ", app.member_password)
    assert answer.status_code == 303
    assert "workbench_session=" in answer.headers["set-cookie"]
