"""The in-page clock of the UI benchmark (scripts/bench_ui.py): when a step started and when it
settled, measured inside the browser page on its own clock, so no Playwright round trip is in any
figure.

A script installed in every document before the app's own (``RECORDER_JS``) takes the start from
the trusted ``click`` / Enter ``keydown`` event as the page receives it (a capture listener) and
notices the end with a ``MutationObserver`` (and image ``load`` events) as the DOM changes.
Times are ``performance.timeOrigin + performance.now()``, comparable across documents: signing
in carries the step over to the document the form leads to through ``sessionStorage``.

A step is "settled" when its landmark is in the page (``landmarks`` in ``RECORDER_JS``: Chat's
chat input, a page's ``h1`` title, a saved reply's credits caption with no Stop button left, a
generated image loaded), ``stApp`` says the app is connected
(``data-test-connection-state="CONNECTED"``) and no script is running
(``data-test-script-state="notRunning"``: the state Streamlit's running-man status widget is drawn
from; the widget itself appears only after 500 ms of running and fades out for 200 ms after, so
it is no clock). The landmark must be absent when the step is armed (``Clock.arm`` refuses
otherwise), so a leftover of the page before never counts. The step ends at the page's last
change once all that holds (a node added, removed or changed in ``stMain`` or the sidebar, or an
image there loaded: charts and tables the frontend draws after the run has ended count), when
nothing has changed for ``quiet_ms`` and it all still holds (a rerun meanwhile, as
``st.rerun()`` after a saved reply, moves the end to its own end). The quiet window itself is not
in the time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

# A step whose script run ended without its landmark for this long has failed (not merely slow).
STUCK_MS = 3000

# Installed in every document before the app's own scripts. ``arm(kind, args)`` starts a step: the
# next trusted click or Enter is its start, and every DOM change (and image load) re-checks
# whether it has ended. A step armed with ``persist`` (signing in) is kept in sessionStorage so
# the document the form leads to carries on with it.
RECORDER_JS = r"""(() => {
  if (window.__bench) return;
  const KEY = "__bench_armed";
  const now = () => performance.timeOrigin + performance.now();
  const b = (window.__bench = { armed: null, now });
  const q = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const appState = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app
      ? [app.getAttribute("data-test-script-state"), app.getAttribute("data-test-connection-state")]
      : [null, null];
  };
  const replies = () => q('[data-testid="stChatMessageContent"]').filter(
    (m) => (m.getAttribute("aria-label") || "") === "Chat message from assistant");
  // A reply's own words: Markdown in the message that is not a button's label (Stop, copy...).
  const replyText = (m) => q('[data-testid="stMarkdownContainer"]', m)
    .filter((e) => !e.closest("button")).map((e) => e.textContent.trim()).join("");
  const stopShown = () => q('[data-testid="stMain"] button').some(
    (x) => /(^|\W)Stop$/.test((x.innerText || "").trim()));
  const newReply = (a) => replies()[a.args.baseline];
  const landmarks = {
    chat: () => q('[data-testid="stChatInput"] textarea').length > 0,
    page: (a) => q("h1").some((h) => h.textContent.trim() === a.args.title),
    reply: (a) => {
      const m = newReply(a);
      return !!m && !stopShown() && q('[data-testid="stCaptionContainer"]', m)
        .some((c) => /credit/i.test(c.textContent));
    },
    image: (a) => {
      const entry = q('[data-testid="stText"]')
        .filter((t) => t.textContent.includes(a.args.text))
        .map((t) => t.closest('[data-testid="stVerticalBlock"]')).filter(Boolean).pop();
      const imgs = entry ? q('[data-testid="stImage"] img, [data-testid="stImageContainer"] img',
                             entry) : [];
      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
  };
  const PAGE = '[data-testid="stMain"], [data-testid="stSidebar"]';
  const inPage = (node) => {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    return !!(el && el.closest(PAGE));
  };
  // Whether a batch of mutations (or an image's load event) changed what the page shows.
  const changed = (records) => Array.isArray(records)
    ? records.some((r) => r.type !== "attributes" || r.attributeName === "src" ? inPage(r.target)
                                                                            : false)
    : !!(records && inPage(records.target));
  const look = (records) => {
    const a = b.armed;
    if (!a || a.t0 === null) return;
    const t = now();
    const [state, conn] = appState();
    if (state !== a.state) { a.states.push([Math.round(t - a.t0), state]); a.state = state; }
    if (state === "running" && a.running === null) a.running = t;
    if (a.kind === "reply" && a.firstToken === null) {
      const m = newReply(a);
      const text = m ? replyText(m) : "";
      if (text) { a.firstToken = t; a.firstText = text.slice(0, 80); }
    }
    const there = landmarks[a.kind](a);
    const idle = state === "notRunning" && conn === "CONNECTED";
    const ok = there && idle;
    if (ok && a.okSince === null) a.okSince = a.lastChange = t;
    else if (ok && changed(records)) a.lastChange = t;  // still drawing (charts, images)
    else if (!ok) a.okSince = a.lastChange = null;
    // Done running without the landmark: stuck, unless a later change (an image arriving) ends it.
    if (idle && !there && a.stuckSince === null) a.stuckSince = t;
    else if (!idle || there) a.stuckSince = null;
  };
  b.arm = (kind, args, persist) => {
    b.armed = { kind, args, persist, t0: null, okSince: null, lastChange: null, stuckSince: null,
                running: null,
                firstToken: null, firstText: null, state: undefined,
                states: [] };
    if (persist) sessionStorage.setItem(KEY, JSON.stringify(b.armed));
  };
  b.landmark = (kind, args) => landmarks[kind]({ args });
  const start = () => {
    const a = b.armed;
    if (!a || a.t0 !== null) return;
    a.t0 = now();
    if (a.persist) sessionStorage.setItem(KEY, JSON.stringify(a));
    look(null);
  };
  addEventListener("click", (e) => { if (e.isTrusted) start(); }, true);
  addEventListener("keydown", (e) => { if (e.isTrusted && e.key === "Enter") start(); }, true);
  const carried = sessionStorage.getItem(KEY);
  if (carried) {
    const a = JSON.parse(carried);
    if (a.t0 !== null) {
      sessionStorage.removeItem(KEY);
      a.persist = false;
      b.armed = a;
    }
  }
  // An <img> loading changes no DOM node. Its load event never reaches window: listen on document.
  document.addEventListener("load", look, true);
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ["data-test-script-state", "data-test-connection-state", "src"],
  });
})()"""

# What a finished step reports, read in the page: null until it has settled for ``quiet`` ms, or
# what the page shows (errors) once it has sat idle without its landmark for ``stuck`` ms.
RESULT_JS = """([quiet, stuck]) => {
  const a = window.__bench && window.__bench.armed;
  if (!a || a.t0 === null) return null;
  const s = (t) => (t === null ? null : (t - a.t0) / 1000);
  if (a.stuckSince !== null && window.__bench.now() - a.stuckSince > stuck) {
    const shown = Array.from(document.querySelectorAll(
      '[data-testid="stException"], [data-testid="stAlertContainer"]'));
    return { stuck: shown.map((e) => e.innerText.trim()).filter(Boolean) };
  }
  if (a.okSince === null || window.__bench.now() - a.lastChange < quiet) return null;
  return { total: s(a.lastChange), runEnded: s(a.okSince), running: s(a.running),
           firstToken: s(a.firstToken), firstText: a.firstText };
}"""

# Where a step stands, for the message when it never settles.
STATE_JS = """() => {
  const a = window.__bench && window.__bench.armed;
  return a ? { kind: a.kind, started: a.t0 !== null, states: a.states,
               firstToken: a.firstToken !== null } : null;
}"""


class StepFailed(Exception):
    """A step could not be done or never settled: the message says which and why."""


@dataclass(frozen=True)
class Step:
    """One timed step, in seconds from the action."""

    total: float
    to_run: float | None  # → the page saw the script running (None: it never saw it)
    run_ended: float  # → the landmark shown, no script running: the rest is drawing
    # The renderer's main thread busy meanwhile (Chromium's TaskDuration, the quiet window's
    # polling included): what drawing the step cost the browser.
    browser: float | None
    first_token: float | None = None
    first_text: str | None = None  # what the page showed of the reply at first_token


class Clock:
    """The in-page clock of one browser page (install before the first ``goto``)."""

    def __init__(self, page: Page, quiet_ms: int, timeout_s: float) -> None:
        self.page, self.quiet_ms, self.timeout_s = page, quiet_ms, timeout_s
        page.context.add_init_script(RECORDER_JS)
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        self._busy_at_arm = 0.0

    def busy_s(self) -> float:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))

    def landmark(self, kind: str, **args: Any) -> bool:
        shown: bool = self.page.evaluate("([k, a]) => window.__bench.landmark(k, a)", [kind, args])
        return shown

    def arm(self, kind: str, *, persist: bool = False, **args: Any) -> None:
        """Start a step of ``kind`` (a key of ``landmarks`` in ``RECORDER_JS``): the next click or
        Enter in the page is its start. ``persist``: it ends in the next document (a form's
        submission)."""
        if not persist and self.landmark(kind, **args):
            raise StepFailed(f"{kind} {args}: already shown before the action")
        self.page.evaluate("([k, a, p]) => window.__bench.arm(k, a, p)", [kind, args, persist])
        self._busy_at_arm = self.busy_s()

    def wait(self, what: str) -> Step:
        """The step armed last, once settled; ``StepFailed`` if it never settles."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            try:
                found: dict[str, Any] | None = self.page.evaluate(
                    RESULT_JS, [self.quiet_ms, max(STUCK_MS, self.quiet_ms)]
                )
            except PlaywrightError as error:  # the sign-in form's document is being replaced
                if "context was destroyed" not in str(error) and "navigat" not in str(error):
                    raise
                found = None
            if found is not None and "stuck" in found:
                raise StepFailed(
                    f"{what}: the app finished its run without it; the page shows: "
                    f"{found['stuck'] or 'no error'}"
                )
            if found is not None:
                busy = self.busy_s() - self._busy_at_arm
                return Step(
                    found["total"],
                    found["running"],
                    found["runEnded"],
                    busy if busy >= 0 else None,  # a new renderer (none so far) starts at 0
                    found["firstToken"],
                    found["firstText"],
                )
            self.page.wait_for_timeout(25)
        raise StepFailed(
            f"{what}: not settled within {self.timeout_s:g} s "
            f"(in the page: {self.page.evaluate(STATE_JS)})"
        )
