"""The Content-Security-Policy of every response: what a page of the workbench may load and run.

Only the workbench's own origin may supply scripts, images, fonts, styles and connections, and no
other origin may frame it. Four allowances, each needed by Streamlit's bundled frontend:

- ``script-src``: the one inline script in Streamlit's ``index.html`` (``window.prerenderReady =
  false``), by its SHA-256, computed from the installed file when this module is imported, so a
  Streamlit upgrade that changes the script changes the hash with it, and nothing else inline runs.
- ``script-src 'wasm-unsafe-eval'``: protobuf.js's 64-bit integers (long.js) compile a tiny
  built-in WebAssembly module for multiplication and division, and fall back to slower plain
  JavaScript if refused. It allows compiling WebAssembly only, never ``eval`` of JavaScript, and
  only for scripts the policy already lets run.
- ``style-src 'unsafe-inline'``: Streamlit's components are styled with emotion, which writes
  ``<style>`` elements and ``style`` attributes at run time; without it the app renders unstyled.
  Styles cannot run script; what injected CSS could still do (restyle a page, or with
  ``url()`` reach only this origin) needs an injection point, and people's text is never markup.
- ``font-src data:``: Streamlit's stylesheet carries one of KaTeX's fonts inline, as a
  ``data:`` URL.

Images need nothing beyond ``'self'`` (every page was checked in Chromium with none): not even
``data:`` or ``blob:``, so markup that slipped into a page could not show a picture from anywhere.

``connect-src 'self'`` covers the page's websocket to ``/_stcore/stream`` too: CSP Level 3 lets
``'self'`` match ``ws:``/``wss:`` on the page's own host and port (Chromium, Firefox and Safari
all implement it; the browser tests run under this policy).
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from pathlib import Path

from streamlit import file_util


class _InlineScripts(HTMLParser):
    """The text of every ``<script>`` without a ``src`` in a page, exactly as written (the
    browser hashes the characters between the tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def inline_script_hashes(html: str) -> list[str]:
    """``'sha256-…'`` sources for each inline script in ``html``, in order."""
    parser = _InlineScripts()
    parser.feed(html)
    parser.close()
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in parser.scripts
    ]


def streamlit_index() -> Path:
    return Path(file_util.get_static_dir()) / "index.html"


def _index_hashes() -> list[str]:
    # Without the built frontend (Streamlit's development mode serves it from elsewhere) there
    # is no inline script of ours to allow.
    index = streamlit_index()
    return inline_script_hashes(index.read_text(encoding="utf-8")) if index.is_file() else []


def policy(script_hashes: list[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes, "'wasm-unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


CONTENT_SECURITY_POLICY = policy(_index_hashes())
