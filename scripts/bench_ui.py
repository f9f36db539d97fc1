#!/usr/bin/env python3
"""Benchmark the app as a person meets it: a real ``streamlit run`` server and headless Chromium,
timing sign-in, page switches, a chat reply's first words and its saving, and one image.

    .venv/bin/python -m scripts.bench_ui
    .venv/bin/python -m scripts.bench_ui --runs 10 --user member --json-only
    .venv/bin/python -m scripts.bench_ui --stream-delay-s 0      # the demo model without its pause
    .venv/bin/python -m scripts.bench_ui --server-env STREAMLIT_RUNNER_POST_SCRIPT_GC=false

The server is ``tests.browser_harness.start_app`` (a fresh SQLite file, the seeded demo workspace,
the offline demo models; the demo model's pause before each streamed word is the app's default
unless ``--stream-delay-s`` says otherwise; ``--server-env`` adds environment, e.g. a Streamlit
option to compare). One Chromium for the whole run. Each run is one journey in a fresh browser
context, so a fresh Streamlit session: the first ``--warmup`` journeys are not timed (the server
has then imported, cached and compiled what a journey needs: a warm server), the next ``--runs``
are. A journey, each step timed:

* sign_in: submit the sign-in form (the app's own HTML page) → Chat settled;
* first_token and reply_saved: type a message into the chat input, press Enter → the first
  characters of the new assistant message (Markdown in a ``stChatMessage`` from the assistant,
  not a button's label or a caption) are in the DOM; → the reply is saved: that message shows its
  caption with the credits charged, no Stop button is left, and the page settled;
* page: click each navigation link the user has, in the sidebar's order, Chat last (from the page
  before it) → that page settled (its ``h1`` title; Chat: its chat input);
* image: on Images, the prompt typed (and sent) beforehand, press Generate → the gallery's entry
  for that prompt shows its image, loaded and decoded.

How the times are taken, and what "settled" means exactly, is in ``scripts/ui_clock.py``: in the
page, on its own clock, from the trusted click or Enter to the moment the step's landmark is shown
with no script running (held for ``--quiet-ms``). Where the page saw the script start running,
``breakdown`` splits a step into ``to_run_s`` (action → ``running``: the request reaching the
server and its script starting), ``run_s`` (→ the run has ended with the landmark shown: the
script's run, its messages reaching the browser and being drawn as they come) and ``draw_s`` (→
the page's last change: what the frontend draws after the run, as charts and tables), with
``browser_s`` beside them: how long Chromium's renderer main thread was busy meanwhile.

Baseline (``scripts/bench_ui_bare.py``): after each journey, the same clock times two page
switches on a bare Streamlit app (two pages, a title and a line each, ``st.navigation``) served by
a second ``streamlit run`` on this machine: ``bare_page_switch_s`` is the floor that Streamlit,
the browser and the machine's load set for any page switch, measured at the same time as the app.

Figures are medians over the timed runs (``samples`` has every one). ``page_switch_s`` is the
slowest page's median. The targets (issue 14): ``page_switch_s`` ≤ 1.0 s settled and
``first_token_s`` ≤ 0.3 s after Enter, reported, not asserted. Progress goes to stderr; the last
line of stdout is one JSON object. The exit status is 1 when a journey could not be completed (a
missing label, a frontend error, a step that never settled), 2 for bad arguments or no Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, sync_playwright

from scripts.bench_measure import log, quiet, stage
from scripts.bench_ui_bare import bare_app, bare_switches
from scripts.ui_clock import Clock, Step, StepFailed
from tests.browser_harness import (
    ADMIN,
    CHROMIUM,
    MEMBER,
    NO_CHROMIUM,
    AppServer,
    launch_chromium,
    nav_titles,
    new_page,
    sidebar,
    sign_in_form,
    start_app,
    submit_sign_in,
    wait_settled,
    watch_page_errors,
)
from workbench.config import Settings

CHAT = "Chat"
IMAGES = "Images"
TARGET_PAGE_SWITCH_S = 1.0
TARGET_FIRST_TOKEN_S = 0.3
DEFAULT_STREAM_DELAY_S: float = Settings.model_fields["demo_stream_delay_s"].default


@dataclass
class Samples:
    sign_in: list[Step] = field(default_factory=list)
    pages: dict[str, list[Step]] = field(default_factory=dict)
    reply: list[Step] = field(default_factory=list)
    image: list[Step] = field(default_factory=list)
    bare: list[Step] = field(default_factory=list)


# --- one journey ---------------------------------------------------------------------------


def nav_link(page: Page, title: str) -> Locator:
    """The sidebar's navigation link titled ``title`` (after the icon's ligature)."""
    links = sidebar(page).get_by_test_id("stSidebarNavLink")
    found = [link for link in links.all() if link.inner_text().strip().splitlines()[-1:] == [title]]
    if len(found) != 1:
        raise StepFailed(
            f"{len(found)} navigation links titled {title!r} (the sidebar has {nav_titles(page)})"
        )
    return found[0]


def must_find(locator: Locator, what: str) -> Locator:
    if locator.count() != 1:
        raise StepFailed(f"{locator.count()} of {what} in the page (one expected)")
    return locator


def time_sign_in(page: Page, clock: Clock, server: AppServer, user: str) -> Step:
    page.goto(server.url)
    sign_in_form(page).wait_for()
    clock.arm("chat", persist=True)
    submit_sign_in(page, user, server.password(user))
    return clock.wait("sign-in → Chat")


def time_reply(page: Page, clock: Clock, text: str) -> Step:
    box = must_find(page.get_by_test_id("stChatInput").locator("textarea"), "the chat input")
    replies = page.locator(
        '[data-testid="stChatMessageContent"][aria-label="Chat message from assistant"]'
    )
    box.fill(text)
    clock.arm("reply", baseline=replies.count())
    box.press("Enter")
    step = clock.wait("chat reply saved")
    if step.first_token is None:
        raise StepFailed("the reply was saved but its text was never seen")
    return step


def time_page(page: Page, clock: Clock, title: str) -> Step:
    link = nav_link(page, title)
    if title == CHAT:
        clock.arm("chat")
    else:
        clock.arm("page", title=title)
    link.click()
    return clock.wait(f"switch to {title}")


def time_image(page: Page, clock: Clock, prompt: str, tag: str) -> Step:
    """Generate one image for ``prompt``; its gallery card is found by ``tag`` (the gallery may
    show a long prompt cut short)."""
    box = must_find(page.get_by_role("textbox", name="Describe the image"), "'Describe the image'")
    box.fill(prompt)
    box.press("Tab")  # sends the prompt (a run of its own) before Generate is pressed
    wait_settled(page, quiet_ms=clock.quiet_ms)
    button = must_find(page.get_by_role("button", name="Generate", exact=True), "'Generate'")
    clock.arm("image", text=tag)
    button.click()
    return clock.wait("image generated")


def journey(browser: Browser, server: AppServer, user: str, samples: Samples, **clock: Any) -> None:
    """Sign in, chat once, visit every page (generating one image on Images), back to Chat."""
    page = new_page(browser)
    errors = watch_page_errors(page)
    timer = Clock(page, **clock)
    try:
        samples.sign_in.append(time_sign_in(page, timer, server, user))
        tag = uuid.uuid4().hex[:8]
        samples.reply.append(time_reply(page, timer, f"Bench {tag}: how fast does a reply stream?"))
        titles = nav_titles(page)
        if CHAT not in titles or IMAGES not in titles:
            raise StepFailed(f"no {CHAT!r} or {IMAGES!r} navigation link in {titles}")
        for title in [t for t in titles if t != CHAT] + [CHAT]:
            samples.pages.setdefault(title, []).append(time_page(page, timer, title))
            if title == IMAGES:
                prompt = f"Bench {tag}: a lighthouse at dusk"
                samples.image.append(time_image(page, timer, prompt, f"Bench {tag}"))
        if errors:
            raise StepFailed(f"the app's frontend threw: {errors}")
    finally:
        page.context.close()


# --- figures -------------------------------------------------------------------------------


def seconds(value: float) -> float:
    return round(value, 3)


def median(values: Sequence[float]) -> float | None:
    return seconds(statistics.median(values)) if values else None


def breakdown(steps: Sequence[Step]) -> dict[str, float | None]:
    """Medians of a step's parts: ``to_run_s`` and ``run_s`` where the page saw the script
    running, ``draw_s`` (the frontend still drawing after the run), and ``browser_s`` where
    Chromium reported its renderer's work."""
    to_run = [s.to_run for s in steps if s.to_run is not None]
    run = [s.run_ended - s.to_run for s in steps if s.to_run is not None]
    return {
        "to_run_s": median(to_run),
        "run_s": median(run),
        "draw_s": median([s.total - s.run_ended for s in steps]),
        "browser_s": median([s.browser for s in steps if s.browser is not None]),
    }


def totals(steps: Sequence[Step]) -> list[float]:
    return [seconds(s.total) for s in steps]


def summarise(samples: Samples) -> dict[str, Any]:
    first_tokens = [s.first_token for s in samples.reply if s.first_token is not None]
    page_s = {title: median(totals(steps)) for title, steps in samples.pages.items()}
    slowest = max(page_s, key=lambda title: page_s[title] or 0.0)
    result: dict[str, Any] = {
        "sign_in_s": median(totals(samples.sign_in)),
        "page_s": page_s,
        "page_switch_s": page_s[slowest],
        "slowest_page": slowest,
        "first_token_s": median(first_tokens),
        "reply_saved_s": median(totals(samples.reply)),
        "image_s": median(totals(samples.image)),
        "bare_page_switch_s": median(totals(samples.bare)),
        "samples": {
            "sign_in_s": totals(samples.sign_in),
            "page_s": {title: totals(steps) for title, steps in samples.pages.items()},
            "first_token_s": [seconds(t) for t in first_tokens],
            "first_token_text": [s.first_text for s in samples.reply],
            "reply_saved_s": totals(samples.reply),
            "image_s": totals(samples.image),
            "bare_page_switch_s": totals(samples.bare),
        },
        "breakdown": {
            "sign_in_s": breakdown(samples.sign_in),
            "page_s": {title: breakdown(steps) for title, steps in samples.pages.items()},
            "reply_saved_s": breakdown(samples.reply),
            "image_s": breakdown(samples.image),
            "bare_page_switch_s": breakdown(samples.bare),
        },
    }
    targets = {
        "page_switch_le_1s": result["page_switch_s"] <= TARGET_PAGE_SWITCH_S,
        "first_token_le_0_3s": result["first_token_s"] <= TARGET_FIRST_TOKEN_S,
    }
    result["targets"] = targets
    result["targets_met"] = all(targets.values())
    return result


# --- the run -------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed journeys (medians of these)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed journeys first")
    parser.add_argument("--user", choices=(ADMIN, MEMBER), default=ADMIN, help="who signs in")
    parser.add_argument(
        "--stream-delay-s",
        type=float,
        default=DEFAULT_STREAM_DELAY_S,
        help="the demo model's pause before each streamed word (default: the app's)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="more environment for the app's server (repeatable)",
    )
    parser.add_argument("--quiet-ms", type=int, default=500, help="how long a step stays settled")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per step")
    parser.add_argument(
        "--json-only", action="store_true", help="no progress on stderr, only the JSON line"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be positive and --warmup not negative")
    if not 0 <= args.stream_delay_s <= 1:
        parser.error("--stream-delay-s must be between 0 and 1 (the app's own limits)")
    if args.quiet_ms < 0 or args.timeout_s <= 0:
        parser.error("--quiet-ms must not be negative and --timeout-s must be positive")
    for item in args.server_env:
        if not item.partition("=")[0].isidentifier() or "=" not in item:
            parser.error(f"--server-env {item!r}: expected NAME=VALUE")
    args.server_env = dict(item.split("=", 1) for item in args.server_env)
    return args


def measure(args: argparse.Namespace, workdir: Path) -> Samples:
    samples, warm = Samples(), Samples()
    clock = {"quiet_ms": args.quiet_ms, "timeout_s": args.timeout_s}
    with stage("start the app and a bare Streamlit app"):
        server = start_app(
            workdir / "app", stream_delay_s=args.stream_delay_s, extra_env=args.server_env
        )
    try:
        with bare_app(workdir / "bare") as bare_url, sync_playwright() as playwright:
            browser = launch_chromium(playwright.chromium)
            try:
                with stage(f"warm-up ({args.warmup} journeys)"):
                    for _ in range(args.warmup):
                        journey(browser, server, args.user, warm, **clock)
                        warm.bare += bare_switches(browser, bare_url, **clock)
                with stage(f"timed ({args.runs} journeys)"):
                    for n in range(args.runs):
                        journey(browser, server, args.user, samples, **clock)
                        samples.bare += bare_switches(browser, bare_url, **clock)
                        pages = {t: f"{s[-1].total:.2f}" for t, s in samples.pages.items()}
                        log(
                            f"  run {n + 1}: sign-in {samples.sign_in[-1].total:.2f}s, "
                            f"first token {samples.reply[-1].first_token:.3f}s, pages {pages}"
                        )
            finally:
                browser.close()
    finally:
        server.stop()
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    quiet(args.json_only)
    if not CHROMIUM.exists():
        print(f"bench_ui: {NO_CHROMIUM}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    try:
        with tempfile.TemporaryDirectory(prefix="workbench-bench-ui-") as workdir:
            samples = measure(args, Path(workdir))
    except StepFailed as failure:
        print(f"bench_ui: a journey failed: {failure}", file=sys.stderr)
        return 1
    result: dict[str, Any] = {
        "runs": args.runs,
        "warmup": args.warmup,
        "user": args.user,
        "stream_delay_s": args.stream_delay_s,
        "server_env": args.server_env,
        "quiet_ms": args.quiet_ms,
        **summarise(samples),
        "streamlit_version": version("streamlit"),
        "cpus": os.cpu_count(),
        # Other load on the machine slows every step; it shows in the absolute figures.
        "loadavg_1m": [load_at_start, round(os.getloadavg()[0], 2)],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
