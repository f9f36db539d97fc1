"""Text a person typed is never Markdown or HTML: every Streamlit call in pages/ and workbench/
that renders Markdown (st.markdown, st.caption, alerts, toasts, st.write, headings, metric,
button, widget, expander and tab labels, help, radio/pills options, st.table, ``flash``) is given
only text the code wrote, escaped text, or numbers; and ``unsafe_allow_html``/``st.html`` carry
only constants. The analysis is in tests/markup_sinks.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.markup_sinks import ROOT, Project, app_files, findings

# (file, expression as written) -> why it cannot carry what a person typed.
ALLOWED: dict[tuple[str, str], str] = {
    ("pages/usage.py", "(filters.end - filters.start).days"): "timedelta.days is an int",
    ("workbench/analytics/widgets.py", "page"): (
        "the page number this pager keeps in session_state: only ints are written there"
    ),
    ("workbench/analytics/widgets.py", "tile.label"): (
        "Tile labels are constants in analytics.dashboard.tiles/totals_tiles"
    ),
    ("workbench/analytics/widgets.py", "tile.value"): (
        "Tile values are numbers, credits, dollars or percentages formatted in analytics.dashboard"
    ),
    ("workbench/analytics/widgets.py", "tile.delta"): "as tile.value: a formatted difference",
    ("workbench/analytics/widgets.py", "tile.help"): (
        "constants in analytics.dashboard.tiles, or a sentence with a row count"
    ),
    ("workbench/admin/confirmations.py", "action.title"): (
        "Pending titles are constants written in admin.money_forms"
    ),
    ("workbench/admin/money_forms.py", "caption"): (
        "_pick_with_reason's caption: every caller in the file passes a constant"
    ),
    ("workbench/admin/money_forms.py", "label"): "as caption: a constant from the caller",
    ("workbench/admin/money_forms.py", "submit"): "as caption: a constant from the caller",
    ("workbench/ui/chrome.py", "page.breadcrumb"): (
        "PageSpec fields are constants in workbench/ui/page_registry.py"
    ),
    ("workbench/ui/chrome.py", "page.title"): "as page.breadcrumb",
    ("workbench/ui/chrome.py", "page.description"): "as page.breadcrumb",
    ("workbench/ui/chrome.py", "message"): (
        "page_header's toast shows what flash() was given: every flash() call is a checked sink"
    ),
    ("workbench/chat/transcript.py", "neutralise(message.content)"): (
        "a model's reply is Markdown by design (issue 12); reply_markdown.neutralise makes it "
        "load nothing from elsewhere"
    ),
    ("workbench/chat/transcript.py", "neutralise(text)"): "as neutralise(message.content)",
    ("workbench/chat/transcript.py", "details"): (
        "reply_details: a cost, token counts and seconds, numbers the app formats"
    ),
    ("workbench/chat/message_actions.py", "details"): "as transcript.py's details",
    ("workbench/chat/chat_settings.py", "[escape_markdown(c.summary) for c in choices]"): (
        "every caption escaped (the guard reads no comprehension)"
    ),
    ("workbench/chat/transcript.py", "file_size(attachment.size)"): (
        "attachments.file_size: a size in bytes, formatted"
    ),
    ("workbench/ui/chrome.py", "who.membership.role"): (
        "a role is one of ledger.schema.ROLES, which the database checks"
    ),
}

PROJECT = Project(ALLOWED)  # parsed once for every file's case


@pytest.mark.parametrize("path", app_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_renders_typed_text_as_markup(path: Path) -> None:
    found = PROJECT.findings(path)
    assert found == [], (
        "show typed text with st.text/st.code/st.dataframe, or escape it with "
        "workbench.ui.messages.escape_markdown (or allowlist a constant, with why):\n"
        + "\n".join(str(f) for f in sorted(found, key=lambda f: f.line))
    )


def test_every_allowlisted_expression_is_still_there() -> None:
    """An entry whose expression is gone must go too, or it would silently allow a new one."""
    stale = [
        f"{path}: {expression}"
        for path, expression in ALLOWED
        if expression not in (ROOT / path).read_text()
        and expression.replace(" ", "") not in (ROOT / path).read_text().replace(" ", "")
    ]
    assert stale == []


def test_the_guard_reads_every_page_and_the_whole_workbench_package() -> None:
    files = {str(p.relative_to(ROOT)) for p in app_files()}
    assert {"pages/chat.py", "pages/images.py", "workbench/ui/chrome.py"} <= files
    assert len([f for f in files if f.startswith("pages/")]) == len(
        list((ROOT / "pages").glob("*.py"))
    )


# --- the guard itself: what it catches and what it lets through ---------------------------------

CAUGHT = {
    "a typed name in a caption": 'st.caption(f"Workspace: {who.workspace.name}")',
    "a bare variable in an error": "st.error(message)",
    "an f-string in a sidebar toast": 'st.sidebar.toast(f"{reason} saved")',
    "a column's metric label": "a, b = st.columns(2)\na.metric(user.display_name, 3)",
    "a button label": 'st.button(f"Open {conversation.title}")',
    "an expander label": "with st.expander(title):\n    pass",
    "a tab name": "st.tabs([workspace.name, 'Journal'])",
    "help text": 'st.text_input("Reason", help=row.note)',
    "st.write of a variable": "st.write(prompt)",
    "radio options": 'st.radio("Who", [u.name for u in users])',
    "pills format_func": 'st.pills("Model", MODELS, format_func=lambda m: names[m])',
    "a table of anything": "st.table(rows)",
    "HTML from a variable": "st.markdown(body, unsafe_allow_html=True)",
    "st.html of a variable": "st.html(page)",
    "components.html": "import streamlit.components.v1 as components\ncomponents.html(body)",
    "a flash of typed text": 'flash(f"{model} switched off")',
    "a helper that passes its input through": (
        'def shown(x):\n    return f"**{x}**"\nst.markdown(shown(user.name))'
    ),
    "a name assigned typed text once": 'note = f" · {pack.note}"\nst.markdown(f"A{note}")',
    "a string spec is still text": 'st.caption(f"{name:>20}")',
    "progress text": 'st.progress(3, text=f"{user.name} is done")',
}

PASSED = {
    "a constant": 'st.caption("Nothing yet.")',
    "escaped text": 'st.caption(f"Workspace: {escape_markdown(who.workspace.name)}")',
    "an error as a sentence": "st.error(sentence(error))",
    "credits": 'st.metric("Available", format_credits(balance.available))',
    "a number with a number format": 'st.caption(f"{found.total:,} calls")',
    "a date with a date format": 'st.caption(f"since {moment:%Y-%m-%d}")',
    "a count": 'st.expander(f"Holds ({len(holds)})")',
    "a name assigned only safe text": (
        'shown = "none" if cap is None else f"{format_credits(cap)} credits"\n'
        'st.caption(f"Cap: {shown}")'
    ),
    "a helper returning numbers": (
        'def pages_of(total):\n    return max(1, total // 50)\nst.caption(f"of {pages_of(n)}")'
    ),
    "a table of constant texts": 'DONE = {"a": "Done.", "b": "Gone."}\nflash(DONE[action])',
    "rows of constants in a loop": (
        'for label, key in (("Model", "m"), ("Feature", "f")):\n'
        "    st.multiselect(label, [], key=key)"
    ),
    "plain text elements": "st.text(prompt)\nst.code(reason)\nst.dataframe(rows)",
    "selectbox options (drawn as plain text)": (
        'st.selectbox("Member", ids, format_func=names.__getitem__)'
    ),
    "constant HTML": 'st.markdown("<br>", unsafe_allow_html=True)',
    "a logger is not Streamlit": "log.error(message)\nlog.info(f'{user.name}')",
    "radio over constant options": 'st.radio("Range", QUICK_PICKS, format_func=str.capitalize)',
}


def _guard(tmp_path: Path, source: str) -> list[str]:
    file = tmp_path / "snippet.py"
    file.write_text(
        "import streamlit as st\n"
        "from workbench.ui.messages import escape_markdown, sentence\n"
        "from ledger.amounts import format_credits\n"
        "from workbench.ui.chrome import flash\n" + source + "\n"
    )
    return [f.shown for f in findings({}, [file])]


@pytest.mark.parametrize("source", CAUGHT.values(), ids=CAUGHT.keys())
def test_the_guard_catches_typed_text_in_markup(tmp_path: Path, source: str) -> None:
    assert _guard(tmp_path, source) != []


@pytest.mark.parametrize("source", PASSED.values(), ids=PASSED.keys())
def test_the_guard_lets_safe_text_through(tmp_path: Path, source: str) -> None:
    assert _guard(tmp_path, source) == []
