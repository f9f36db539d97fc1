"""The script Streamlit runs for every session and every rerun: a thin router.

Sign-in first; then navigation built from the signed-in person's role on every run, so a page
they may not see is not in it at all (and a URL typed by hand lands on the default page). Pages
live in the top-level ``pages/``, away from this script, so Streamlit's legacy folder router never
serves them unfiltered.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from workbench.ui.chrome import run_page, sidebar
from workbench.ui.messages import escape_markdown
from workbench.ui.page_registry import FAVICON, PAGES, PAGES_DIR, PageSpec, visible_to
from workbench.ui.session import (
    NoWorkspace,
    current,
    services,
    sign_out,
)
from workbench.web.sign_in_routes import sign_in_url

# A file, not a :material/ icon: Streamlit fetches material favicons from fonts.gstatic.com, which
# an offline machine cannot reach.
st.set_page_config(page_title="Workbench", page_icon=str(FAVICON), layout="wide")
svc = services()


def sign_in_page(asked_for: PageSpec | None) -> None:
    st.title("Sign in to the workbench")
    mode = svc.config.auth_mode
    if mode == "oidc" and st.user.is_logged_in:
        st.warning(
            f"Your company account ({escape_markdown(str(st.user.get('email') or 'no email'))}) "
            "is not a workbench "
            "user yet. Ask a workspace admin to add you."
        )
        st.button("Sign out", on_click=st.logout)
    elif mode == "oidc":
        st.button("Sign in with your company account", on_click=st.login, type="primary")
    elif mode == "proxy":
        st.error(
            "Your sign-in did not reach the workbench (no user header from the proxy). "
            "Ask the team that runs it."
        )
    else:
        # Local sign-in happens on the app's own page (workbench.web), which can set the session
        # cookie; a page opened without one is sent there before Streamlit runs. Here only when
        # this tab's session ended (signed out elsewhere, deactivated, timed out).
        st.info("You are signed out: your session ended or you signed out in another tab.")
        path = f"/{asked_for.url_path}" if asked_for is not None else "/"
        st.link_button("Sign in", sign_in_url(path), type="primary")


def signed_out_pages() -> list[st.Page]:
    """The sign-in page, answering at every page's URL as well as its own: a bookmarked /credits
    opens it instead of Streamlit's "page not found" dialog, and signing in lands on it."""
    return [SIGN_IN_DEFAULT] + [
        st.Page(partial(sign_in_page, page), title="Sign in", url_path=page.url_path)
        for page in PAGES
    ]


def workbench_pages(level: str) -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    for page in visible_to(level):
        sections.setdefault(page.section, []).append(
            st.Page(
                PAGES_DIR / page.file,
                title=page.title,
                icon=page.icon,
                url_path=page.url_path,
                default=page.default,
                help=page.description,
            )
        )
    return sections


SIGN_IN_DEFAULT = st.Page(
    partial(sign_in_page, None), title="Sign in", url_path="sign_in", default=True
)

# Every branch runs to the end of the script (no st.stop()): Streamlit clears a finished run's
# fragments only when the run ends normally, and the sidebar's balance fragment must not outlive
# a sign-out.
try:
    who = current(svc)
    missing_workspace = None
except NoWorkspace as missing:
    who, missing_workspace = None, str(missing)

if missing_workspace is not None:
    st.warning(
        f"You are signed in as {escape_markdown(missing_workspace)}, "
        "but not a member of any workspace yet."
    )
    if st.button("Sign out"):
        sign_out(svc)
        st.rerun()
elif who is None:
    run_page(st.navigation(signed_out_pages(), position="hidden"))
else:
    navigation = st.navigation(workbench_pages(who.level))
    st.session_state["who"] = who
    sidebar(svc, who)
    run_page(navigation)
