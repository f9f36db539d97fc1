"""Drive the real app in headless Chromium: start ``streamlit run workbench/app.py`` on a free port
with its own SQLite file and image folder, capture the first admin's password from its console,
and the Playwright helpers the browser tests and ``scripts/screenshots.py`` share.

Playwright's own browser download is not used: Debian's Chromium (``/usr/bin/chromium``) is
launched through ``executable_path``.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

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
PASSWORD_LINE = re.compile(r"First start: sign in as 'admin' with the password\s+(\S+)")
MEMBER = "member"
ADMIN = "admin"
START_TIMEOUT_S = 60.0
# Playwright timeouts are in milliseconds.
UI_TIMEOUT_MS = 20_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    """A bare TCP connect: no HTTP request reaches the app."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def app_env(workdir: Path, *, stream_delay_s: float, balance_refresh_s: float) -> dict[str, str]:
    """This machine's environment without any workbench or provider settings of its own, plus a
    fresh database and image folder under ``workdir`` (the offline demo models only)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("WORKBENCH_")
        and key not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"}
        and key not in {"ANTHROPIC_BASE_URL"}
    }
    env.update(
        {
            "WORKBENCH_DATABASE_URL": f"sqlite:///{workdir / 'workbench.db'}",
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
    console: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def password(self, username: str) -> str:
        return self.admin_password if username == ADMIN else self.member_password

    def output(self) -> str:
        return "".join(self.console)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def start_app(
    workdir: Path,
    *,
    stream_delay_s: float = 0.02,
    balance_refresh_s: float = 1.0,
    probe_health: bool = True,
) -> AppServer:
    """Seed a fresh database, start the app, read the first admin's password from its console,
    then set the member's password.

    With ``probe_health`` the app's ``/_stcore/health`` is polled until it answers; without it
    readiness is judged by a bare TCP connect only, so the caller's own first request is the first
    HTTP request the server ever gets.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = app_env(workdir, stream_delay_s=stream_delay_s, balance_refresh_s=balance_refresh_s)
    # Seed only: no local login exists yet, so the app's first start creates the admin's.
    _run_cli(["scripts/ledgerctl.py", "seed"], env)
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
    server = AppServer(process, port, workdir, env, member_password=secrets.token_urlsafe(12))
    log = (workdir / "server.log").open("w", encoding="utf-8")

    def pump() -> None:
        assert process.stdout is not None
        with log:
            for line in process.stdout:
                server.console.append(line)
                log.write(line)
                log.flush()

    threading.Thread(target=pump, name=f"app-console-{port}", daemon=True).start()
    try:
        _wait_until_ready(server, probe_health=probe_health)
        _run_cli(
            ["scripts/authctl.py", "set-password", MEMBER], env, stdin=server.member_password + "\n"
        )
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: AppServer, *, probe_health: bool) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the app exited ({server.process.returncode}):\n{server.output()}")
        if not server.admin_password:
            found = PASSWORD_LINE.search(server.output())
            if found:
                server.admin_password = found.group(1)
        if server.admin_password and (_healthy(server) if probe_health else _port_open(server.port)):
            return
        time.sleep(0.2)
    raise TimeoutError(
        f"the app was not ready within {START_TIMEOUT_S:.0f} s "
        f"(admin password seen: {bool(server.admin_password)}):\n{server.output()}"
    )


def _healthy(server: AppServer) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def running_app(workdir: Path, **options: float | bool) -> Iterator[AppServer]:
    server = start_app(workdir, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


# --- the browser side -------------------------------------------------------------------------


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def new_page(browser: Browser, *, width: int = 1400, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context.new_page()


def wait_settled(page: Page, *, quiet_ms: int = 400, timeout_ms: int = UI_TIMEOUT_MS) -> None:
    """The app has rendered and no script run is in progress: the "Running" status widget has
    been absent for ``quiet_ms`` in a row."""
    page.locator('[data-testid="stApp"]').wait_for(state="attached", timeout=timeout_ms)
    running = page.locator('[data-testid="stStatusWidget"]').get_by_text("Running")
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if running.count() == 0 and page.locator('[data-testid="stSkeleton"]').count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(100)
    raise TimeoutError("the app was still running after the timeout")


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in the sign-in form on whatever page is open and wait for the signed-in sidebar."""
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    sidebar(page).get_by_role("button", name="Sign out").wait_for()
    wait_settled(page)


def sidebar(page: Page) -> Locator:
    return page.locator('[data-testid="stSidebar"]')


def available_credits(page: Page) -> int:
    """The sidebar's "Credits available" metric, as a number."""
    metric = sidebar(page).locator('[data-testid="stMetric"]').filter(has_text="Credits available")
    value = metric.locator('[data-testid="stMetricValue"]').inner_text(timeout=UI_TIMEOUT_MS)
    return int(re.sub(r"[^\d-]", "", value))


def go(page: Page, server: AppServer, url_path: str) -> None:
    """Open a page through the sidebar navigation (a full reload would end the session)."""
    sidebar(page).locator('[data-testid="stSidebarNavLink"]').filter(
        has_text=_NAV_TITLES[url_path]
    ).click()
    page.wait_for_url(re.compile(rf"/{url_path}$"))
    wait_settled(page)


_NAV_TITLES = {
    "chat": "Chat",
    "images": "Images",
    "credits": "My credits",
    "admin_credits": "Credit admin",
}


def nav_titles(page: Page) -> list[str]:
    links = sidebar(page).locator('[data-testid="stSidebarNavLink"]')
    return [text.strip() for text in links.all_inner_texts()]


def send_chat(page: Page, text: str) -> None:
    box = page.locator('[data-testid="stChatInput"] textarea')
    box.fill(text)
    box.press("Enter")


def assistant_messages(page: Page) -> Locator:
    return page.locator('[data-testid="stChatMessage"]').filter(
        has=page.locator('[data-testid="stChatMessageAvatarAssistant"]')
    )


def generate_image(page: Page, prompt: str) -> None:
    page.get_by_label("Describe the image").fill(prompt)
    # The text area commits on blur; a click elsewhere first makes the prompt part of the run.
    page.get_by_role("button", name="Generate").click()
    images_heading(page).wait_for()
    page.locator('[data-testid="stImage"]').first.wait_for()
    wait_settled(page)


def images_heading(page: Page) -> Locator:
    return page.get_by_role("heading", name="Your images")
