"""What every page shares: its header (title, breadcrumb, description), the sidebar (who is
signed in, the workspace, its credits refreshed every few seconds, sign out) and the low-balance
banner above every page of a workspace below its threshold."""

from __future__ import annotations

import logging
import secrets

import streamlit as st

from ledger.admin_views import LowBalance
from ledger.amounts import format_credits
from workbench.bootstrap import Services
from workbench.gateway.errors import FeatureDisabled
from workbench.ui.messages import concerns_credits, escape_markdown, explain
from workbench.ui.page_registry import PAGES_DIR, PageSpec, spec
from workbench.ui.session import WORKSPACE_KEY, SignedIn, sign_out

FLASH_KEY = "flash"
log = logging.getLogger("workbench.pages")


def flash(message: str) -> None:
    """A toast that survives the ``st.rerun`` a mutation usually ends with."""
    st.session_state[FLASH_KEY] = message


def page_header(page: PageSpec) -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.toast(message, icon=":material/check_circle:")
    st.caption(page.breadcrumb)
    st.title(page.title)
    st.caption(page.description)


def show_failure(error: Exception) -> None:
    """A refusal or failure as one plain sentence; those about credits, caps and limits link to
    My credits. A page link, not a markdown one: that would open a new, signed-out session.
    Escaped: a message may quote a provider, or a switch's reason an operator typed."""
    st.error(escape_markdown(explain(error)))
    if concerns_credits(error):
        link_to_my_credits()


def link_to_my_credits() -> None:
    credits_page = spec("credits")
    st.page_link(
        PAGES_DIR / credits_page.file,
        label="My credits: balance, spending cap and history",
        icon=credits_page.icon,
    )


def show_estimate_problem(error: Exception) -> None:
    """Why a page has no estimate to show: a switched-off feature as a warning (nothing can be
    sent until it is back), anything else as a quiet caption under the inputs."""
    if isinstance(error, FeatureDisabled):
        st.warning(escape_markdown(explain(error)), icon=":material/block:")
    else:
        st.caption(escape_markdown(explain(error)))


def run_page(page: st.Page) -> None:
    """Run the chosen page; anything it did not expect is logged with its traceback and shown
    as one sentence with a reference to find it in the log (Streamlit's own error box would
    show the traceback to the person)."""
    try:
        page.run()
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("page %s failed (reference %s)", page.url_path or "/", reference)
        st.error(
            "Something went wrong on this page and it has been logged. Try again; if it keeps "
            f"happening, tell the workbench's admins (reference {reference})."
        )


def sidebar(svc: Services, who: SignedIn) -> None:
    """The sidebar, and above the page (the router calls this before every page) the
    workspace's low-balance warning."""
    low_balance_banner(svc, who)
    with st.sidebar:
        # A display name is typed by people (admins create members): text, never markup.
        name = escape_markdown(who.user.display_name or who.user.username)
        st.markdown(f"**{name}** · {who.membership.role}")
        if len(who.workspaces) > 1:
            names = {w.id: w.name for w in who.workspaces}
            chosen = st.selectbox(
                "Workspace",
                list(names),
                index=list(names).index(who.workspace.id),
                format_func=names.__getitem__,
            )
            if chosen != who.workspace.id:
                st.session_state[WORKSPACE_KEY] = chosen
                st.rerun()
        else:
            st.caption(f"Workspace: {escape_markdown(who.workspace.name)}")
        balance_panel(svc, who.workspace.account_id)
        # A callback, not `if st.button(...): st.rerun()`: the sign-out happens before the next
        # run, which then ends normally, so Streamlit drops the balance fragment with it.
        st.button(
            "Sign out", icon=":material/logout:", key="sign_out", on_click=sign_out, args=(svc,)
        )


def balance_panel(svc: Services, account_id: int) -> None:
    """Never cached: re-read from the ledger every few seconds, so credits granted elsewhere show
    up without a click."""

    @st.fragment(run_every=svc.config.balance_refresh_s)
    def _balance() -> None:
        balance = svc.ledger.balance(account_id)
        st.metric("Credits available", format_credits(balance.available))
        if balance.held:
            st.caption(f"{format_credits(balance.held)} held for calls in progress")

    _balance()


def low_balance_banner(svc: Services, who: SignedIn) -> None:
    """A warning while the workspace's available credits are below its threshold (one query)."""
    low = svc.ledger.low_balance(who.workspace.id)
    if low is not None:
        st.warning(low_balance_text(low), icon=":material/battery_alert:")


def low_balance_text(low: LowBalance) -> str:
    said = (
        f"Low balance: {format_credits(low.available)} credits left, below this workspace's "
        f"threshold of {format_credits(low.threshold)}."
    )
    days = low.days_left
    if days is None:
        return f"{said} There has been no spending in the last 7 days."
    if days < 1:
        lasts = "less than a day"
    else:
        whole = round(days)
        lasts = f"about {whole} day{'' if whole == 1 else 's'}"
    return f"{said} At the last 7 days' rate that lasts {lasts}."
