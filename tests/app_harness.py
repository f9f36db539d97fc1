"""Running the Streamlit app under ``AppTest`` against a fresh database per test.

``make_app(tmp_path, monkeypatch)`` points the app's configuration (``WORKBENCH_*`` environment
variables) at a new SQLite file and image folder in ``tmp_path``, clears every cache that could
carry state from another test (``settings()``, the shared services, ``st.cache_resource``,
``st.cache_data``), opens the app's services and seeds workspace ``acme`` with an admin and two
members with known passwords and credits. Pass ``fake=`` (the session's ``fake_provider``) to
configure the OpenAI provider against the loopback fake server, so chat goes through litellm over
HTTP.

The returned :class:`AppEnv` builds ``AppTest`` instances of ``workbench/ui/router.py`` (signed in
or not), and reads what the tests check: balances, holds, usage rows, messages.

Use it from a fixture in the test module::

    @pytest.fixture
    def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
        with app_env(tmp_path, monkeypatch) as opened:
            yield opened
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from ledger.amounts import credits
from ledger.owners import User, Workspace
from ledger.schema import entries, holds, usage_records
from tests.fake_providers import FakeProvider
from tests.gateway_harness import OPENAI_KEY
from workbench import bootstrap
from workbench.auth import local_logins
from workbench.bootstrap import Services, open_services
from workbench.config import settings
from workbench.db.schema import conversations, messages
from workbench.ui.session import SESSION_KEY

ROOT = Path(__file__).resolve().parent.parent
ROUTER = ROOT / "workbench" / "ui" / "router.py"
TIMEOUT_S = 30.0

# Paths for ``AppTest.switch_page``: relative to the router's folder (workbench/).
CHAT = "../../pages/chat.py"
IMAGES = "../../pages/images.py"
CREDITS = "../../pages/credits.py"
ADMIN_CREDITS = "../../pages/admin_credits.py"

ADMIN_PASSWORD = "admin-password-0001"
MEMBER_PASSWORD = "member-password-0002"
OTHER_PASSWORD = "other-password-0003"
OPERATOR_PASSWORD = "operator-password-0004"
FAKE_CHAT_MODEL = "openai/gpt-4o-mini"

# Environment the app reads; removed first so nothing from the developer's shell leaks in.
_CLEARED_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "WORKBENCH_OPENAI_API_KEY",
    "WORKBENCH_OPENAI_API_BASE",
    "WORKBENCH_ANTHROPIC_API_KEY",
    "WORKBENCH_ANTHROPIC_API_BASE",
    "WORKBENCH_AUTH_MODE",
    "WORKBENCH_DEFAULT_CHAT_MODEL",
    "WORKBENCH_DEFAULT_IMAGE_MODEL",
    # A developer's Stripe keys must not reach the pages under test (billing tests set their own).
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "WORKBENCH_STRIPE_SECRET_KEY",
    "WORKBENCH_STRIPE_WEBHOOK_SECRET",
    "WORKBENCH_STRIPE_API_BASE",
)


def clear_caches() -> None:
    """Forget everything a previous test configured: settings, services, cached reads."""
    settings.cache_clear()
    bootstrap.shutdown()
    st.cache_resource.clear()
    st.cache_data.clear()


@dataclass
class AppEnv:
    """One test's app: its services (a separate handle on the same database as the app's own),
    the seeded people and workspace, and the fake provider when configured."""

    svc: Services
    workspace: Workspace
    admin: User
    member: User
    other: User
    fake: FakeProvider | None
    tmp_path: Path
    # An operator (platform/finance team) who is a plain member of acme.
    operator: User

    # --- driving the app ----------------------------------------------------------------------

    def app(self) -> AppTest:
        """A fresh browser session on the router, not signed in and not yet run."""
        return AppTest.from_file(str(ROUTER), default_timeout=TIMEOUT_S)

    def signed_in(self, user: User, page: str | None = None) -> AppTest:
        """A session signed in as ``user`` (as the sign-in route leaves it: a live server-side
        session this tab knows the id of), run once, then switched to ``page`` and run again if
        given."""
        at = self.app()
        at.session_state[SESSION_KEY] = self.sign_in_session(user)
        at.run()
        if page is not None:
            at.switch_page(page).run()
        return at

    def sign_in_session(self, user: User) -> int:
        """A new live sign-in session for ``user``, as a right password opens one."""
        _token, session = self.svc.web_sessions.open(user.id, None, "AppTest")
        return session.id

    # --- reading what happened ----------------------------------------------------------------

    @property
    def account_id(self) -> int:
        return self.workspace.account_id

    def available(self) -> int:
        return self.svc.ledger.balance(self.account_id).available

    def held(self) -> int:
        return self.svc.ledger.balance(self.account_id).held

    def holds(self) -> list[Any]:
        return self._rows(sa.select(holds).order_by(holds.c.id))

    def usage_rows(self) -> list[Any]:
        return self._rows(sa.select(usage_records).order_by(usage_records.c.id))

    def entries(self) -> list[Any]:
        return self._rows(sa.select(entries).order_by(entries.c.id))

    def conversations(self) -> list[Any]:
        return self._rows(sa.select(conversations).order_by(conversations.c.id))

    def messages(self) -> list[Any]:
        return self._rows(sa.select(messages).order_by(messages.c.id))

    def api_requests(self) -> list[Any]:
        """Requests the fake provider received on its API endpoints (chat, images)."""
        return [] if self.fake is None else list(self.fake.api_requests())

    def _rows(self, query: sa.Select[Any]) -> list[Any]:
        with self.svc.ledger.engine.connect() as conn:
            return list(conn.execute(query))


def configure(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    fake: FakeProvider | None = None,
    auth_mode: str = "local",
    **env: str,
) -> None:
    """Set the app's environment for this test (undone by ``monkeypatch``) and clear caches."""
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("WORKBENCH_IMAGE_DIR", str(tmp_path / "images"))
    monkeypatch.setenv("WORKBENCH_DEMO_STREAM_DELAY_S", "0")
    monkeypatch.setenv("WORKBENCH_AUTH_MODE", auth_mode)
    monkeypatch.setenv("WORKBENCH_PROVIDER_TIMEOUT_S", "10")
    monkeypatch.setenv("WORKBENCH_PROVIDER_MAX_RETRIES", "0")
    if fake is not None:
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("WORKBENCH_OPENAI_API_BASE", fake.openai_base)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Cheaper scrypt for the seeded passwords (the cost is stored in each hash, so sign-in still
    # verifies them with the real code); the app's own parameters are untouched otherwise.
    monkeypatch.setattr(local_logins, "SCRYPT_N", 2**12)
    clear_caches()


def seed(svc: Services, micros: int) -> tuple[Workspace, User, User, User, User]:
    """Workspace ``acme``: an admin, a member, another member and an operator (a plain member of
    acme), each with a password, and ``micros`` paid micro-credits."""
    ledger = svc.ledger
    workspace = ledger.create_workspace("acme", "Acme")
    admin = ledger.create_user("ada", "Ada Admin", email="ada@example.com")
    member = ledger.create_user("mia", "Mia Member", email="mia@example.com")
    other = ledger.create_user("otto", "Otto Other", email="otto@example.com")
    ledger.add_member(workspace.id, admin.id, "admin")
    ledger.add_member(workspace.id, member.id, "member")
    ledger.add_member(workspace.id, other.id, "member")
    svc.logins.set_password(admin.id, ADMIN_PASSWORD)
    svc.logins.set_password(member.id, MEMBER_PASSWORD)
    svc.logins.set_password(other.id, OTHER_PASSWORD)
    operator = ledger.create_user("olga", "Olga Operator", email="olga@example.com")
    ledger.add_member(workspace.id, operator.id, "member")
    ledger.set_operator(operator.id, True, actor_user_id=None, reason="the finance team")
    svc.logins.set_password(operator.id, OPERATOR_PASSWORD)
    if micros:
        ledger.grant(workspace.account_id, micros, kind="paid", key="app-harness-seed")
    return ledger.workspace_by_id(workspace.id), admin, member, other, operator


@contextmanager
def app_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    micros: int = credits(100_000),
    fake: FakeProvider | None = None,
    auth_mode: str = "local",
    **env: str,
) -> Iterator[AppEnv]:
    """A configured, seeded app for one test; caches cleared again and the database closed
    afterwards. ``env`` adds or overrides environment variables (e.g. WORKBENCH_...)."""
    configure(tmp_path, monkeypatch, fake=fake, auth_mode=auth_mode, **env)
    if fake is not None:
        fake.reset()
    svc = open_services(settings())
    try:
        workspace, admin, member, other, operator = seed(svc, micros)
        yield AppEnv(svc, workspace, admin, member, other, fake, tmp_path, operator)
    finally:
        svc.ledger.close()
        clear_caches()
        if fake is not None:
            fake.reset()


# --- reading an AppTest's output -----------------------------------------------------------------


def texts(at: AppTest, kind: str) -> list[str]:
    """The text of every element of one kind (``"caption"``, ``"error"``, ``"markdown"``...)."""
    return [str(element.value) for element in getattr(at, kind)]


def all_text(at: AppTest) -> str:
    """Everything a person could read on the page, in one string (for "not shown" checks)."""
    kinds = (
        "title",
        "subheader",
        "caption",
        "markdown",
        "error",
        "warning",
        "info",
        "success",
        "toast",
        "code",
    )
    parts = [text for kind in kinds for text in texts(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    parts += [b.label for b in at.button]
    return "\n".join(parts)


def sidebar_text(at: AppTest) -> str:
    sidebar = at.sidebar
    parts = [str(m.value) for m in sidebar.markdown]
    parts += [str(c.value) for c in sidebar.caption]
    parts += [f"{m.label}: {m.value}" for m in sidebar.metric]
    parts += [b.label for b in sidebar.button]
    return "\n".join(parts)


def metrics(at: AppTest) -> dict[str, str]:
    """The main area's metrics, label to shown value."""
    return {m.label: m.value for m in at.main.metric}


def the_table(at: AppTest) -> Any:
    """The page's one dataframe, as a pandas frame (fails if there is not exactly one)."""
    [table] = at.dataframe
    return table.value


def assert_no_exception(at: AppTest) -> None:
    shown = [e.value for e in at.exception]
    assert shown == [], f"the page raised: {shown}"


def loose_code(at: AppTest) -> list[str]:
    """Code blocks outside the conversation's messages (each message carries its own, behind
    its Copy control): what the page offers to copy, such as a message that was not sent."""
    in_messages = {id(c) for m in at.chat_message for c in m.code}
    return [c.value for c in at.code if id(c) not in in_messages]


def assert_links_to_my_credits(at: AppTest) -> None:
    """The page offers one in-app link (``st.page_link``, same session) to My credits."""
    links = at.get("page_link")
    assert [link.proto.page for link in links] == ["credits"], [link.proto for link in links]


def navigation_pages(at: AppTest) -> set[str]:
    """The page files the last run registered with ``st.navigation`` (AppTest keeps them to
    resolve ``switch_page``; there is no public accessor)."""
    registered: dict[str, dict[str, Any]] = at._registered_pages  # type: ignore[assignment]
    return {
        Path(str(info["script_path"])).name
        for info in registered.values()
        if info.get("script_path")
    }


def button(at: AppTest, label: str) -> Button:
    """The one button with this label (fails clearly when there is none or several)."""
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, (
        f"buttons labelled {label!r}: {len(found)} of {[b.label for b in at.button]}"
    )
    return found[0]
