"""Everything a person typed (workspace and display names, usernames, reasons, a feature's
message, a provider's error, the names in the model catalogue and the credit-pack file) is shown
literally on My credits, Usage analytics, Credit admin and Pricing & features, for a member, a
workspace admin and an operator: raw in text, code and table cells, and escaped wherever
Streamlit renders Markdown (st.markdown, captions, alerts, toasts, headings, metrics, widget,
tab and expander labels, help). A Markdown link, image, HTML tag, emphasis, ``:red[...]`` or an
autolink planted there never reaches a Markdown element as markup.

``assert_literal`` reads every element of a run (the proto each element sends the browser) and
fails if any planted markup reaches a Markdown field unescaped (whole or cut short, as an error
quoting the first 40 characters typed does), or if escaping shows up in a plain-text field
(where its backslashes and word joiners would be seen or copied).
tests/test_browser_escaped_text_is_literal.py shows the escaped form is drawn as plain text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from ledger.owners import User, Workspace
from ledger.usage import CallUsage
from tests.admin_credits_harness import submit
from tests.app_harness import (
    ADMIN_CREDITS,
    CREDITS,
    ROOT,
    AppEnv,
    app_env,
    assert_no_exception,
    button,
)
from tests.test_app_usage_renders import open_section, tab_labels
from workbench.ui.messages import escape_markdown
from workbench.ui.session import WORKSPACE_KEY

USAGE = "../../pages/usage.py"
ADMIN_PRICING = "../../pages/admin_pricing.py"


def payload(tag: str) -> str:
    """Every kind of markup at once, tagged so a test can tell which field it came from."""
    return (
        f"{tag} [Sign in again](http://evil.example/{tag}) ![x](http://evil.example/p.gif) "
        "<img src=x onerror=alert(1)> **bold** :red[x] www.evil.example"
    )


# Usernames allow letters, digits and _ . @ - only: enough for an email and a www autolink.
USERNAME = "mallory@evil.example"
TYPED_USERNAME = "www.evil.example"
PLANTED = {
    "workspace": payload("workspace name"),
    "display": payload("display name"),
    "username": USERNAME,
    "top_up": payload("top-up reason"),
    "deactivate": payload("deactivation reason"),
    "error": payload("provider error"),
    "pack": payload("pack name"),
    "pack_note": payload("pack note"),
    "model": payload("model name"),
    "price_reason": payload("price reason"),
    "model_reason": payload("model switch reason"),
    "feature_message": payload("feature message"),
    "feature_reason": payload("feature reason"),
}
# Any of the planted markup left unescaped in a Markdown field (a planted string may be quoted
# whole or cut short, as in "'typed [Sign in again](http://evil.examp' is not an amount").
MARKUP_LEFT = re.compile(
    r"(?<!\\)\[Sign|(?<!\\)\]\(|!\[x|\*\*bold|:red|(?<!\\)<img"
    r"|://evil|(?<!\u2060)@evil|www\.evil"
)
# What escaping adds (backslashes, invisible word joiners): never in a plain-text field.
ESCAPED_SIGNS = ("\\[", "\\<", "\\*", "\u2060")


# --- reading a run: what the browser renders as Markdown and what as plain text ----------------

# Proto fields the browser renders as Markdown (a metric's value is its "body").
_MARKUP_FIELDS = {"body", "label", "help", "delta", "text", "title", "captions", "description"}


@dataclass
class Shown:
    markup: list[str]
    plain: list[str]


def shown(at: AppTest, part: str = "page") -> Shown:
    """What a run shows: ``part`` "page" (main area, dialogs and toasts) or "sidebar"."""
    found = Shown([], [])
    roots = at._tree.children
    blocks = [roots[1]] if part == "sidebar" else [b for i, b in roots.items() if i != 1]
    for block in blocks:
        for node in block:
            _read(node, found)
    return found


def _read(node: Any, found: Shown) -> None:
    kind = getattr(node, "type", "")
    if kind == "dataframe":
        frame = node.value
        found.plain += [str(c) for c in frame.columns]
        found.plain += [str(v) for v in frame.to_numpy().ravel()]
        return
    proto = getattr(node, "proto", None)
    if proto is None or not hasattr(proto, "ListFields"):
        return
    for field, value in proto.ListFields():
        name = field.name
        if (kind, name) in (("text", "body"), ("code", "code_text")):
            found.plain.append(value)
        elif name == "options":
            if kind in ("selectbox", "multiselect"):  # drawn as plain text by the frontend
                found.plain += [str(v) for v in value]
            elif kind == "radio":
                found.markup += [str(v) for v in value]
            else:  # button groups (pills, segmented control): Markdown content
                found.markup += [getattr(v, "content", str(v)) for v in value]
        elif name in _MARKUP_FIELDS:
            found.markup += [value] if isinstance(value, str) else [str(v) for v in value]
        elif name in ("default", "value") and isinstance(value, str):
            found.plain.append(value)  # what an input box holds


def assert_literal(at: AppTest, part: str = "page") -> Shown:
    """No planted string is Markdown: in Markdown fields only in its escaped form, in plain ones
    only raw."""
    assert_no_exception(at)
    seen = shown(at, part)
    for text in seen.markup:
        left = MARKUP_LEFT.search(text)
        assert left is None, f"typed text rendered as Markdown: {text!r}"
    for text in seen.plain:
        if "evil" in text:
            assert not any(sign in text for sign in ESCAPED_SIGNS), (
                f"escaped in plain text: {text!r}"
            )
    return seen


def assert_shows(seen: Shown, *keys: str) -> None:
    """Each planted string is on the page: raw in a plain field or escaped in a Markdown one."""
    plain, markup = "\n".join(seen.plain), "\n".join(seen.markup)
    missing = [
        key
        for key in keys
        if PLANTED[key] not in plain and escape_markdown(PLANTED[key]) not in markup
    ]
    assert missing == [], f"not shown: {missing}"


# --- the world: a workspace where every typed field holds markup --------------------------------


@dataclass
class World:
    env: AppEnv
    lab: Workspace
    mallory: User  # a member of the lab only, with a hostile username and display name


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """A model catalogue and a credit-pack file whose people-facing names are markup."""
    models = (ROOT / "data" / "models.toml").read_text()
    assert 'name = "Demo chat (offline)"' in models
    catalogue = tmp_path / "models.toml"
    catalogue.write_text(models.replace("Demo chat (offline)", PLANTED["model"]))
    packs = tmp_path / "credit_packs.toml"
    packs.write_text(
        "[[pack]]\n"
        'id = "evil"\n'
        f'name = "{PLANTED["pack"]}"\n'
        "credits = 1000\n"
        'price_usd = "1.00"\n'
        f'note = "{PLANTED["pack_note"]}"\n'
    )
    return catalogue, packs


def plant(env: AppEnv) -> World:
    ledger, operator = env.svc.ledger, env.operator.id
    # "a-lab" sorts before "acme": it is where the admin and the operator land.
    lab = ledger.create_workspace("a-lab", PLANTED["workspace"])
    mallory = ledger.create_user(USERNAME, PLANTED["display"])
    ledger.add_member(lab.id, mallory.id, "member")
    ledger.add_member(lab.id, env.admin.id, "admin")
    ledger.add_member(lab.id, operator, "member")
    ledger.top_up(
        lab.id,
        credits(500),
        kind="paid",
        actor_user_id=operator,
        reason=PLANTED["top_up"],
        key="plant-top-up",
    )
    ledger.set_user_active(mallory.id, False, actor_user_id=operator, reason=PLANTED["deactivate"])
    ledger.set_user_active(mallory.id, True, actor_user_id=operator, reason="back")
    # One call that failed with a provider's message, one still holding credits.
    usage = CallUsage(
        provider="demo",
        status="error",
        latency_ms=40,
        error_type="ProviderError",
        error_message=PLANTED["error"],
    )
    held = ledger.reserve(
        lab.account_id,
        user_id=mallory.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(1),
        key="plant-failed",
    ).hold.id
    ledger.release(held, reason="error", key="plant-failed", usage=usage)
    ledger.reserve(
        lab.account_id,
        user_id=mallory.id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(1),
        key="plant-open",
    )
    ledger.set_price(
        "demo/chat",
        feature_key="ai_text_chat",
        input_per_mtok=credits(1),
        output_per_mtok=credits(2),
        actor_user_id=operator,
        reason=PLANTED["price_reason"],
    )
    # Off and on again: switching to the state it is in records nothing.
    ledger.set_model_enabled("demo/chat", False, operator, reason="a moment")
    ledger.set_model_enabled("demo/chat", True, operator, reason=PLANTED["model_reason"])
    ledger.set_feature(
        "ai_image_generation",
        False,
        PLANTED["feature_message"],
        actor_user_id=operator,
        reason=PLANTED["feature_reason"],
    )
    return World(env, lab, mallory)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    catalogue, packs = _files(tmp_path)
    with app_env(
        tmp_path,
        monkeypatch,
        WORKBENCH_MODEL_CATALOGUE=str(catalogue),
        WORKBENCH_CREDIT_PACKS=str(packs),
    ) as env:
        yield plant(env)


def open_page(world: World, role: str, page: str) -> AppTest:
    """``page`` for ``role`` ("member": Mallory; "admin": the lab's admin; "operator"), in the
    lab workspace."""
    user = {"member": world.mallory, "admin": world.env.admin, "operator": world.env.operator}
    at = world.env.signed_in(user[role])
    at.session_state[WORKSPACE_KEY] = world.lab.id
    at.switch_page(page).run()
    assert_no_exception(at)
    return at


# What each page shows of the planted text, for each level that may open it.
SHOWN_ON = {
    ("member", CREDITS): ("top_up", "pack", "pack_note"),
    ("member", USAGE): ("workspace", "username", "error"),
    ("admin", CREDITS): ("top_up", "pack", "pack_note"),
    ("admin", USAGE): ("workspace", "username", "error"),
    ("admin", ADMIN_CREDITS): ("workspace", "display", "username", "top_up", "deactivate"),
    ("operator", CREDITS): ("top_up", "pack", "pack_note"),
    ("operator", USAGE): ("workspace", "username", "error"),
    ("operator", ADMIN_CREDITS): ("workspace", "display", "username", "top_up", "deactivate"),
    ("operator", ADMIN_PRICING): ("model", "price_reason", "model_reason"),
}


@pytest.mark.parametrize(
    ("role", "page"), SHOWN_ON, ids=[f"{r}-{Path(p).stem}" for r, p in SHOWN_ON]
)
def test_every_page_shows_typed_text_literally(world: World, role: str, page: str) -> None:
    at = open_page(world, role, page)
    seen = assert_literal(at)
    # Usage analytics sends only its open tab: every other section is opened and read too.
    for section in tab_labels(at)[1:] if page == USAGE else []:
        also = assert_literal(open_section(at, section))
        seen.plain += also.plain
        seen.markup += also.markup
    assert_shows(seen, *SHOWN_ON[(role, page)])


def test_the_feature_switch_shows_its_message_and_reason_as_text(world: World) -> None:
    at = open_page(world, "operator", ADMIN_PRICING)
    at.selectbox(key="switch_feature").set_value("ai_image_generation").run()
    assert_shows(assert_literal(at), "feature_message", "feature_reason")


# --- typed into the pages' own forms ------------------------------------------------------------


def test_a_typed_reason_is_text_in_the_dialog_the_toast_and_the_journal(world: World) -> None:
    at = open_page(world, "operator", ADMIN_CREDITS)
    at.text_input(key="top_up_amount").set_value("5")
    at.text_input(key="top_up_reason").set_value(payload("typed"))
    at = submit(at, "Review top-up")
    seen = assert_literal(at)  # the confirmation dialog's table
    assert payload("typed") in seen.plain
    at = submit(at, "Confirm")
    seen = assert_literal(at)
    assert payload("typed") in seen.plain  # the journal and the grants


def test_a_typed_username_in_an_error_is_escaped(world: World) -> None:
    at = open_page(world, "admin", ADMIN_CREDITS)
    at.text_input(key="add_member_username").set_value(payload("typed"))
    at = submit(at, "Add member")
    assert_literal(at)
    [error] = at.error
    assert escape_markdown(payload("typed")) in error.value


def test_a_created_member_is_text_in_the_code_box_and_the_table(world: World) -> None:
    at = open_page(world, "admin", ADMIN_CREDITS)
    at.text_input(key="create_member_username").set_value(TYPED_USERNAME)
    at.text_input(key="create_member_name").set_value(payload("typed"))
    at = submit(at, "Create member")
    seen = assert_literal(at)
    assert TYPED_USERNAME in seen.plain
    assert payload("typed") in seen.plain


def test_a_typed_price_and_reason_are_text(world: World) -> None:
    at = open_page(world, "operator", ADMIN_PRICING)
    at.selectbox(key="price_model").set_value("demo/chat").run()
    at.text_input(key="in-demo/chat").set_value(payload("typed")).run()
    seen = assert_literal(at)
    assert any(
        # The sentence quotes the first 40 characters typed.
        text.startswith("Not a price yet")
        and escape_markdown("typed [Sign in again](http://evil") in text
        for text in seen.markup
    ), seen.markup
    at.text_input(key="in-demo/chat").set_value("3").run()
    at.text_input(key="price_reason").set_value(payload("typed"))
    at = button(at, "Save new price").click().run()
    seen = assert_literal(at)
    [toast] = [t.value for t in at.toast]
    assert toast.startswith("demo/chat: price version ")
    assert payload("typed") in seen.plain  # the model's price history


def test_a_typed_switch_reason_and_message_are_text(world: World) -> None:
    at = open_page(world, "operator", ADMIN_PRICING)
    at.selectbox(key="switch_feature").set_value("ai_text_chat").run()
    at.text_area(key="feature_message").set_value(payload("typed"))
    at.text_input(key="switch_feature_reason").set_value(payload("typed reason"))
    at = button(at, "Switch the feature off").click().run()
    at.selectbox(key="switch_feature").set_value("ai_text_chat").run()
    seen = assert_literal(at)
    [state] = [t for t in seen.plain if t.startswith("The feature is off")]
    assert payload("typed reason") in state and payload("typed") in state


# --- what every page shares: the sidebar, and the page for someone with no workspace -----------


@pytest.mark.parametrize("role", ["member", "admin", "operator"])
def test_the_sidebar_shows_names_literally(world: World, role: str) -> None:
    seen = assert_literal(open_page(world, role, CREDITS), "sidebar")
    if role == "member":  # Mallory: her display name, and her one workspace's name
        assert_shows(seen, "display", "workspace")
    else:
        assert_shows(seen, "workspace")  # in the workspace picker


def test_someone_without_a_workspace_sees_their_username_as_text(world: World) -> None:
    loner = world.env.svc.ledger.create_user("nobody@evil.example", payload("typed"))
    at = world.env.signed_in(loner)
    assert_literal(at)
    [warning] = at.warning
    assert escape_markdown("nobody@evil.example") in warning.value
