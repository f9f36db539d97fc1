#!/usr/bin/env python3
"""screenshots: a full-page PNG of every page each role can see, for the docs.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]

Starts the app as ``make run`` does, on a free port with a throwaway database (seeded demo
workspace, offline demo models), signs in as each role in headless Chromium (Debian's
``/usr/bin/chromium``), sends one chat message and generates one image so the pages are not
empty, and saves ``<role>-<page>.png`` (member: chat, images, credits; admin, who is also the
first operator: those, admin_credits and admin_pricing), plus ``member-chat-phone.png``: Chat as
a phone shows it (390 by 844, the window only: the message box pinned at its bottom). Each shot
waits until the page has settled (no script run in progress).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.browser_harness import (
    ADMIN,
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    ROOT,
    AppServer,
    chat_once,
    generate_image,
    go,
    launch_chromium,
    new_page,
    sign_in,
    start_app,
    wait_settled,
    wait_toasts_gone,
)

PAGES = {
    MEMBER: ("chat", "images", "credits", "usage"),
    ADMIN: ("chat", "images", "credits", "usage", "admin_credits", "admin_pricing"),
}
CONTENT = {
    MEMBER: ("What should I pack for a day of hiking?", "A lighthouse on a rocky coast at dusk"),
    ADMIN: ("Summarise this week's credit usage", "A calm lake under a full moon"),
}
WIDTH, HEIGHT = 1400, 900
PHONE_WIDTH, PHONE_HEIGHT = 390, 844


def shoot(page: Page, path: Path) -> None:
    """A full-page PNG of the settled page. Streamlit scrolls its main area inside the window,
    so the window is first made as tall as the content."""
    page.mouse.move(WIDTH - 1, HEIGHT - 1)  # no hover highlight on the last button pressed
    wait_toasts_gone(page)
    wait_settled(page)
    tall = page.evaluate(
        """() => Math.max(...Array.from(document.querySelectorAll(
            '[data-testid="stMain"], [data-testid="stMainBlockContainer"], '
            + '[data-testid="stSidebarContent"]')).map(e => e.scrollHeight), 0)"""
    )
    page.set_viewport_size({"width": WIDTH, "height": max(HEIGHT, int(tall) + 40)})
    wait_settled(page)
    partial = path.with_suffix(".png.tmp")
    page.screenshot(path=str(partial), full_page=True, type="png")
    partial.replace(path)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def shoot_role(page: Page, server: AppServer, role: str, out: Path) -> None:
    message, picture = CONTENT[role]
    sign_in(page, server, role)
    for url_path in PAGES[role]:
        if url_path != "chat":
            go(page, url_path)
        if url_path == "chat":
            chat_once(page, message)
            chat_once(page, "Thanks! Could you make that into a short checklist?")
        elif url_path == "images":
            generate_image(page, picture)
        shoot(page, out / f"{role}-{url_path}.png")
        if url_path == "chat" and role == MEMBER:
            shoot_phone(page, out / f"{role}-chat-phone.png")


def shoot_phone(page: Page, path: Path) -> None:
    """The window as a phone shows it, scrolled to the end of the conversation."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    wait_settled(page)
    page.get_by_test_id("stAppScrollToBottomContainer").evaluate(
        "(e) => e.scrollTo(0, e.scrollHeight)"
    )
    wait_settled(page)
    page.screenshot(path=str(path), type="png")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"screenshots: {NO_CHROMIUM}", file=sys.stderr)
        return 2
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="workbench-screenshots-") as workdir:
        server = start_app(Path(workdir), stream_delay_s=0.0)
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright.chromium)
                try:
                    for role in (MEMBER, ADMIN):
                        page = new_page(browser, width=WIDTH, height=HEIGHT)
                        try:
                            shoot_role(page, server, role, out)
                        finally:
                            page.context.close()
                finally:
                    browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
