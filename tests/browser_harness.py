"""Drive the real app in headless Chromium.

The server side starts ``streamlit run workbench/app.py`` (as ``make run`` does) on a free port
with its own SQLite file (or a given PostgreSQL database) and image folder, seeded by
``workbench ledger seed``; it reads the first admin's password from the app's console and sets
the member's with ``workbench auth set-password``. ``start_replica`` starts another app process
on the same database, as a second replica behind a load balancer.
The browser side is Playwright's sync API on Debian's Chromium (``/usr/bin/chromium``, through
``executable_path``: Playwright's own browser download is not used), with helpers that find
things by Streamlit's ``data-testid`` attributes. The browser tests and ``scripts/screenshots.py``
share both.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ledger.amounts import parse_credits

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Request

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
NO_CHROMIUM = f"{CHROMIUM} is missing (Debian: apt-get install chromium; .ci/run installs it)"
PASSWORD_LINE = re.compile(r"First start: sign in as 'admin' with the password\s+(\S+)")
MEMBER = "member"
ADMIN = "admin"
START_TIMEOUT_S = 60.0
UI_TIMEOUT_MS = 20_000  # Playwright counts in milliseconds
# The balance fragment's longest period (config allows 600 s): in effect it then only redraws
# with a full run, which keeps its timer out of the way of tests that are not about it.
QUIET_BALANCE_REFRESH_S = 600.0
NAV_TITLES = {
    "chat": "Chat",
    "images": "Images",
    "credits": "My credits",
    "usage": "Usage analytics",
    "admin_credits": "Credit admin",
    "admin_pricing": "Pricing & features",
}


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def app_env(
    workdir: Path,
    *,
    stream_delay_s: float,
    balance_refresh_s: float,
    database_url: str | None = None,
) -> dict[str, str]:
    """This machine's environment without workbench or provider settings of its own (so only the
    offline demo models are offered), plus a fresh database and image folder under ``workdir``
    (or the database at ``database_url``: an empty PostgreSQL database, say)."""
    dropped = {
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("WORKBENCH_") and key not in dropped
    }
    env.update(
        {
            "WORKBENCH_DATABASE_URL": database_url or f"sqlite:///{workdir / 'workbench.db'}",
            "WORKBENCH_IMAGE_DIR": str(workdir / "images"),
            "WORKBENCH_AUTH_MODE": "local",
            "WORKBENCH_DEMO_STREAM_DELAY_S": str(stream_delay_s),
            "WORKBENCH_BALANCE_REFRESH_S": str(balance_refresh_s),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class AppServer:
    """One running app: its URL, both demo users' passwords, and its console so far."""

    process: subprocess.Popen[str]
    port: int
    workdir: Path
    env: dict[str, str]
    member_password: str
    admin_password: str = ""
    # Whether the harness itself sent an HTTP request (the health probe) before handing it over.
    probed: bool = False
    console: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def password(self, username: str) -> str:
        return self.admin_password if username == ADMIN else self.member_password

    def output(self) -> str:
        return "".join(self.console)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run the ``workbench`` command line against this app's database."""
        return run_cli(list(args), self.env, stdin=stdin)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def start_app(
    workdir: Path,
    *,
    stream_delay_s: float = 0.02,
    balance_refresh_s: float = QUIET_BALANCE_REFRESH_S,
    probe_health: bool = True,
    extra_env: dict[str, str] | None = None,
    database_url: str | None = None,
) -> AppServer:
    """Seed a fresh database, start the app (its environment ``app_env`` plus ``extra_env``),
    read the first admin's password from its console, then set the member's password (after the
    start: the admin's is created only while no local login exists at all).

    With ``probe_health`` ``/_stcore/health`` is polled until it answers. Without it the app is
    ready once its console has shown the password and the port accepts a bare TCP connection (no
    HTTP), so the caller's own first request is the first HTTP request the server ever gets.
    ``database_url`` puts the app on that (empty) database instead of a SQLite file in
    ``workdir``; ``start_replica`` then starts more app processes on it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = app_env(
        workdir,
        stream_delay_s=stream_delay_s,
        balance_refresh_s=balance_refresh_s,
        database_url=database_url,
    )
    env.update(extra_env or {})
    run_cli(["ledger", "seed"], env)
    server = _launch(workdir, env, member_password=secrets.token_urlsafe(12))
    try:
        _wait_until_ready(server, probe_health=probe_health)
        server.cli("auth", "set-password", MEMBER, stdin=server.member_password)
    except BaseException:
        server.stop()
        raise
    return server


def start_replica(
    first: AppServer, workdir: Path, *, extra_env: dict[str, str] | None = None
) -> AppServer:
    """Another app process on ``first``'s database and image folder, as replicas behind a load
    balancer share them (a PostgreSQL database: see ``start_app``'s ``database_url``): its own
    port, console and ``workdir/server.log``, the same people with the same passwords, nothing
    seeded. Its environment is ``first``'s plus ``extra_env``. Ready once ``/_stcore/health``
    answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**first.env, **(extra_env or {})}
    server = _launch(
        workdir, env, member_password=first.member_password, admin_password=first.admin_password
    )
    try:
        _wait_until_ready(server, probe_health=True)
    except BaseException:
        server.stop()
        raise
    return server


def _launch(
    workdir: Path, env: dict[str, str], *, member_password: str, admin_password: str = ""
) -> AppServer:
    """``streamlit run workbench/app.py`` on a free loopback port, its console pumped."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "workbench/app.py",
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    server = AppServer(
        process, port, workdir, env, member_password=member_password, admin_password=admin_password
    )
    threading.Thread(target=_pump_console, args=(server,), daemon=True).start()
    return server


def _pump_console(server: AppServer) -> None:
    """Keep the app's console (stdout and stderr) in memory and in ``server.log``."""
    assert server.process.stdout is not None
    with (server.workdir / "server.log").open("w", encoding="utf-8") as log:
        for line in server.process.stdout:
            server.console.append(line)
            log.write(line)
            log.flush()


def _wait_until_ready(server: AppServer, *, probe_health: bool) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the app exited ({server.process.returncode}):\n{server.output()}")
        if not server.admin_password:
            found = PASSWORD_LINE.search(server.output())
            server.admin_password = found.group(1) if found else ""
        if server.admin_password and (
            answers_health(server) if probe_health else _accepts_connections(server.port)
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(
        f"the app was not ready within {START_TIMEOUT_S:.0f} s "
        f"(admin password seen: {bool(server.admin_password)}):\n{server.output()}"
    )


def answers_health(server: AppServer) -> bool:
    server.probed = True
    try:
        with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _accepts_connections(port: int) -> bool:
    """A bare TCP connect, closed at once: nothing reaches the app's HTTP handlers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- pytest fixtures (module-scoped: one server, one browser per test module) -----------------


def app_fixture(name: str = "app", **options: Any) -> Callable[..., Iterator[AppServer]]:
    """A module-scoped fixture called ``name``: its own app (``start_app`` options), stopped
    after the module."""

    @pytest.fixture(scope="module", name=name)
    def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
        server = start_app(tmp_path_factory.mktemp("browser-app"), **options)
        try:
            yield server
        finally:
            server.stop()

    return app


def browser_fixture() -> Callable[..., Iterator[Browser]]:
    """A module-scoped fixture: Playwright with headless Chromium, closed after the module."""

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Browser]:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            launched = launch_chromium(playwright.chromium)
            try:
                yield launched
            finally:
                launched.close()

    return browser


def page_fixture() -> Callable[..., Iterator[Page]]:
    """A fresh browser context (so a fresh Streamlit session) per test; the test fails if the
    app's frontend threw an uncaught error meanwhile, or asked for anything off this machine
    (the workbench must work with no network: no fonts, icons or scripts from a CDN)."""

    @pytest.fixture
    def page(browser: Browser) -> Iterator[Page]:
        opened = new_page(browser)
        errors = watch_page_errors(opened)
        remote = watch_remote_requests(opened)
        try:
            yield opened
        finally:
            opened.context.close()
        assert not errors, f"the app's frontend threw: {errors}"
        assert not remote, f"the page asked for something off this machine: {remote}"

    return page


# --- the browser side ----------------------------------------------------------------------


def launch_chromium(chromium: Any) -> Browser:
    """``chromium`` is ``playwright.chromium`` (a ``BrowserType``)."""
    browser: Browser = chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    return browser


def new_page(browser: Browser, *, width: int = 1400, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context.new_page()


def watch_page_errors(page: Page) -> list[str]:
    """Uncaught errors in the page from now on (a crashed Streamlit frontend shows a blank page
    and says so only here)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def watch_remote_requests(page: Page) -> list[str]:
    """URLs the page requested from any host but this one's loopback, from now on."""
    remote: list[str] = []

    def check(request: Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in LOOPBACK:
            remote.append(request.url)

    page.on("request", check)
    return remote


SETTLED_APP = (
    '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
    '[data-test-script-state="notRunning"]'
)


def wait_settled(page: Page, *, quiet_ms: int = 500, timeout_ms: int = UI_TIMEOUT_MS) -> None:
    """The app is connected, has run its script, and no run is in progress: no "Running" status
    widget and a script state of ``notRunning`` for ``quiet_ms`` in a row."""
    settled = page.locator(SETTLED_APP)
    running = page.get_by_test_id("stStatusWidget").get_by_text("Running")
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if settled.count() == 1 and running.count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(50)
    app = page.get_by_test_id("stApp")
    state = app.get_attribute("data-test-script-state") if app.count() else None
    raise TimeoutError(f"the app did not settle within {timeout_ms} ms (script state {state!r})")


def page_not_found(page: Page) -> Locator:
    """Streamlit's "Page not found" dialog (a URL that is not in the current navigation)."""
    return page.get_by_role("dialog").filter(has_text="Page not found")


def assert_no_page_not_found(page: Page) -> None:
    assert page_not_found(page).count() == 0, f"'Page not found' dialog at {page.url}"


def sign_in_form(page: Page) -> Locator:
    """The local sign-in form: the app's own HTML page (workbench.web.sign_in_page), not a
    Streamlit form, since only a real HTTP response can set the session cookie."""
    return page.locator('form[action="/auth/sign-in"]')


def submit_sign_in(page: Page, username: str, password: str) -> None:
    """Fill in and submit the sign-in form on whatever page is open."""
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out_button(page: Page) -> Locator:
    return sidebar(page).get_by_role("button", name="Sign out")


def sign_in(page: Page, server: AppServer, username: str, url_path: str = "") -> None:
    """Open ``url_path`` signed out, sign in on the form it is sent to, and wait for the
    signed-in sidebar, without Streamlit's "Page not found" dialog."""
    page.goto(f"{server.url}/{url_path}")
    sign_in_form(page).wait_for()
    submit_sign_in(page, username, server.password(username))
    sign_out_button(page).wait_for()
    wait_settled(page)
    assert_no_page_not_found(page)


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def available_credits(page: Page) -> int:
    """The sidebar's "Credits available" metric as shown (e.g. "49,999.77"), in micro-credits."""
    metric = sidebar(page).get_by_test_id("stMetric").filter(has_text="Credits available")
    return as_micros(metric.get_by_test_id("stMetricValue").inner_text())


def as_micros(text: str) -> int:
    """An amount of credits as the page shows it ("1,234.5", "0.0123"), in micro-credits."""
    return parse_credits(text.strip())


def wait_for_credits(page: Page, check: Callable[[int], bool], timeout_s: float = 15.0) -> int:
    """Poll the sidebar's credits until ``check`` holds; the last value seen either way."""
    deadline = time.monotonic() + timeout_s
    value = available_credits(page)
    while not check(value) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        value = available_credits(page)
    return value


def nav_titles(page: Page) -> list[str]:
    """The navigation's page titles (the icon's ligature name is the link's first line)."""
    links = sidebar(page).get_by_test_id("stSidebarNavLink").all_inner_texts()
    return [text.strip().splitlines()[-1].strip() for text in links]


def go(page: Page, url_path: str) -> None:
    """Open a page through the sidebar navigation (a reload would start a new session)."""
    sidebar(page).get_by_test_id("stSidebarNavLink").filter(has_text=NAV_TITLES[url_path]).click()
    page.wait_for_url(re.compile(rf"/{url_path}$"))
    page.get_by_role("heading", name=NAV_TITLES[url_path], level=1).wait_for()
    wait_settled(page)


def heading_1(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("h1").all_inner_texts()]


def toasts(page: Page) -> list[str]:
    return page.get_by_test_id("stToast").all_inner_texts()


def wait_toasts_gone(page: Page, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while page.get_by_test_id("stToast").count() and time.monotonic() < deadline:
        page.wait_for_timeout(200)


# --- chat and images -----------------------------------------------------------------------


def assistant_messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage").filter(
        has=page.get_by_test_id("stChatMessageAvatarAssistant")
    )


# Records every distinct text the newest assistant message shows, as it changes, in the page.
RECORD_REPLY_JS = """() => {
  window.__replyTexts = [];
  const record = () => {
    const replies = Array.from(document.querySelectorAll('[data-testid="stChatMessage"]'))
      .filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'));
    const last = replies[replies.length - 1];
    const content = last && last.querySelector('[data-testid="stChatMessageContent"]');
    const text = content ? content.innerText.trim() : "";
    const seen = window.__replyTexts;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true,
  });
}"""


def record_replies(page: Page) -> None:
    page.evaluate(RECORD_REPLY_JS)


def recorded_replies(page: Page) -> list[str]:
    texts: list[str] = page.evaluate("() => window.__replyTexts || []")
    return texts


def send_chat(page: Page, text: str) -> None:
    box = page.get_by_test_id("stChatInput").locator("textarea")
    box.fill(text)
    box.press("Enter")


def wait_chat_reply_saved(page: Page, replies_before: int, timeout_ms: int = 60_000) -> Locator:
    """The new assistant message once its reply is saved (its credits caption is shown)."""
    reply = assistant_messages(page).nth(replies_before)
    reply.get_by_test_id("stCaptionContainer").filter(has_text="credit").wait_for(
        timeout=timeout_ms
    )
    wait_settled(page)
    return reply


def chat_once(page: Page, text: str) -> Locator:
    before = assistant_messages(page).count()
    send_chat(page, text)
    return wait_chat_reply_saved(page, before)


def gallery_images(page: Page) -> Locator:
    return page.get_by_test_id("stImage").locator("img")


def generate_image(page: Page, prompt: str) -> None:
    """Describe, press Generate, and wait for the gallery entry with this prompt."""
    page.get_by_role("textbox", name="Describe the image").fill(prompt)
    page.get_by_role("button", name="Generate").click()
    gallery_entry(page, prompt).wait_for(timeout=60_000)
    wait_settled(page)


def gallery_entry(page: Page, prompt: str) -> Locator:
    """One call's box in "Your images": its prompt (as plain text), model, size and images."""
    # The innermost block holding the prompt (the outer ones, page and main, hold it too).
    return (
        page.get_by_test_id("stVerticalBlock")
        .filter(has=page.get_by_test_id("stText").filter(has_text=prompt))
        .last
    )


def images_loaded(page: Page) -> bool:
    """Every image in the gallery has arrived and decoded."""
    loaded: bool = gallery_images(page).evaluate_all(
        "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"
    )
    return loaded


# --- watching for text that must (or must not) ever appear ---------------------------------

WATCH_JS = """(needles) => {
  window.__seen = [];
  const look = () => {
    const text = document.documentElement ? document.documentElement.textContent : "";
    for (const needle of needles) {
      if (text.includes(needle) && !window.__seen.includes(needle)) window.__seen.push(needle);
    }
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, characterData: true,
  });
}"""


def watch_for_text(page: Page, *needles: str) -> None:
    """From the next page load on, note each of ``needles`` that ever appears anywhere in the
    document, however briefly (read back with ``text_seen``)."""
    page.context.add_init_script(f"({WATCH_JS})({json.dumps(list(needles))})")


def text_seen(page: Page) -> list[str]:
    seen: list[str] = page.evaluate("() => window.__seen || []")
    return seen


# --- plain HTTP against the app's own routes -------------------------------------------------


def http_session_token(server: AppServer, username: str, password: str | None = None) -> str:
    """Sign in through ``POST /auth/sign-in`` and return the session cookie's token."""
    import httpx

    answer = httpx.post(
        f"{server.url}/auth/sign-in",
        data={
            "username": username,
            "password": server.password(username) if password is None else password,
            "next": "/",
        },
        timeout=30,
    )
    if answer.status_code != 303:
        raise AssertionError(f"sign-in as {username} answered {answer.status_code}")
    token: str = answer.cookies["workbench_session"]
    return token


# --- a loopback "other site" that records what it is asked for --------------------------------


class Attacker(http.server.ThreadingHTTPServer):
    """Answers 404 to everything and remembers every path it was asked for: the site a leaked
    image URL or a phishing link would point at."""

    daemon_threads = True

    def __init__(self) -> None:
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        server.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def running_attacker() -> Iterator[Attacker]:
    server = Attacker()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
