"""Every page of the app: section, URL, title, icon, one-line description, and who may see it
(DESIGN.md §1). The router builds navigation from this on every run; pages read their own entry
for their header and breadcrumb."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.config import ROOT

PAGES_DIR = ROOT / "pages"
FAVICON = ROOT / "workbench" / "assets" / "favicon.png"


@dataclass(frozen=True)
class PageSpec:
    section: str
    file: str
    url_path: str
    title: str
    icon: str
    description: str
    admin_only: bool = False
    default: bool = False

    @property
    def breadcrumb(self) -> str:
        return f"{self.section} › {self.title}"


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "Work",
        "chat.py",
        "chat",
        "Chat",
        ":material/chat:",
        "Talk to a language model; every reply is paid for in credits.",
        default=True,
    ),
    PageSpec(
        "Work",
        "images.py",
        "images",
        "Images",
        ":material/image:",
        "Generate images from a description, charged per image.",
    ),
    PageSpec(
        "Credits",
        "credits.py",
        "credits",
        "My credits",
        ":material/account_balance_wallet:",
        "Your workspace's balance, your spending cap, and every ledger line.",
    ),
    PageSpec(
        "Admin",
        "admin_credits.py",
        "admin_credits",
        "Credit admin",
        ":material/admin_panel_settings:",
        "Accounts, holds in flight and recent usage across the workspace.",
        admin_only=True,
    ),
)


def spec(url_path: str) -> PageSpec:
    return next(page for page in PAGES if page.url_path == url_path)


def visible_to(is_admin: bool) -> list[PageSpec]:
    return [page for page in PAGES if is_admin or not page.admin_only]
