"""My credits' auto top-up (workspace admins and operators): below a threshold, buy a chosen pack
off-session with the card saved at an earlier checkout, at most N times a month.

What is typed is checked here first (one sentence, nothing saved), then by ``Billing``, which
checks the role and the pack again and audits the change."""

from __future__ import annotations

import streamlit as st

from ledger.amounts import check_amount, credits_text, format_credits, parse_credits
from ledger.errors import InvalidAmount, LedgerError
from workbench.billing.auto_top_up import MAX_MONTHLY, AutoTopUp
from workbench.bootstrap import Services
from workbench.ui.cached_reads import offers
from workbench.ui.chrome import flash
from workbench.ui.messages import escape_markdown, sentence
from workbench.ui.session import SignedIn

DEFAULT_MONTHLY = 3


def parse(
    workspace_id: int, enabled: bool, threshold: str, pack: str | None, monthly: float | int
) -> AutoTopUp:
    """The form's fields as settings, or ``InvalidInput`` saying what is wrong."""
    if not threshold.strip():
        raise InvalidAmount("enter the threshold in credits, such as 1000")
    micros = check_amount(parse_credits(threshold), "threshold")
    if not pack:
        raise InvalidAmount("choose the pack to buy")
    if int(monthly) != monthly:
        raise InvalidAmount(f"the monthly limit must be a whole number, got {monthly}")
    return AutoTopUp(workspace_id, enabled, micros, pack, int(monthly))


def summary(current: AutoTopUp | None, names: dict[str, str]) -> str:
    """The settings in force, as a sentence (pack names escaped: an operator typed them)."""
    if current is None:
        return "Auto top-up is off: nothing is bought without a person."
    pack = escape_markdown(names.get(current.offer_id, current.offer_id))
    rule = (
        f"below {credits_text(current.threshold_micros)} available, buy **{pack}**, at most "
        f"{current.monthly_limit:,} time{'' if current.monthly_limit == 1 else 's'} a month"
    )
    return f"Auto top-up is {'on' if current.enabled else 'off'}: {rule}."


def section(svc: Services, who: SignedIn) -> None:
    if not who.is_admin:
        return
    st.subheader("Auto top-up")
    if not svc.billing.configured:
        st.caption("Auto top-up buys a pack by itself when credits run low; it needs purchases.")
        return
    packs = {o.id: o.name for o in offers("pack") if o.buyable}
    if not packs:
        st.caption("No pack can be bought online, so there is nothing to top up with.")
        return
    current = svc.billing.auto_top_up(who.workspace.id)
    st.markdown(summary(current, packs))
    st.caption(
        "Paid with the card saved at this workspace's last pack purchase; one top-up at a time."
    )
    ids = list(packs)
    ws = who.workspace.id  # in the keys: another workspace's form starts from its own settings
    with st.form(f"auto_top_up-{ws}"):
        enabled = st.checkbox(
            "Top up automatically",
            value=bool(current and current.enabled),
            key=f"auto_top_up_enabled-{ws}",
        )
        threshold = st.text_input(
            "When available credits fall below",
            value=format_credits(current.threshold_micros) if current else "",
            placeholder="e.g. 1000",
            key=f"auto_top_up_threshold-{ws}",
        )
        pack = st.selectbox(
            "Buy this pack",
            ids,
            index=ids.index(current.offer_id) if current and current.offer_id in packs else 0,
            format_func=packs.__getitem__,
            key=f"auto_top_up_pack-{ws}",
        )
        monthly = st.number_input(
            "At most this many top-ups a month",
            min_value=1,
            max_value=MAX_MONTHLY,
            value=current.monthly_limit if current else DEFAULT_MONTHLY,
            step=1,
            key=f"auto_top_up_monthly-{ws}",
        )
        saved = st.form_submit_button("Save auto top-up")
    if not saved:
        return
    try:
        wanted = parse(who.workspace.id, enabled, threshold, pack, monthly)
        svc.billing.save_auto_top_up(wanted, actor_user_id=who.user.id)
    except LedgerError as error:
        st.error(sentence(error))
        return
    flash("Auto top-up saved.")
    st.rerun()
