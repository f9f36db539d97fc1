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
    # Who may open it (ledger.authority's levels): "member" (everyone), "admin" (workspace admins
    # and operators) or "operator".
    audience: str = "member"
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
        "Insights",
        "usage.py",
        "usage",
        "Usage analytics",
        ":material/insights:",
        "Requests, credits, costs and latency over time: yours, and your workspace's totals.",
    ),
    PageSpec(
        "Admin",
        "admin_credits.py",
        "admin_credits",
        "Credit admin",
        ":material/admin_panel_settings:",
        "Accounts, top-ups, holds, members, thresholds and the audit trail.",
        audience="admin",
    ),
    PageSpec(
        "Admin",
        "admin_pricing.py",
        "admin_pricing",
        "Pricing & features",
        ":material/sell:",
        "Model prices (versioned), models and features on or off, unpriced models.",
        audience="operator",
    ),
)


def spec(url_path: str) -> PageSpec:
    return next(page for page in PAGES if page.url_path == url_path)


def visible_to(level: str) -> list[PageSpec]:
    """The pages a person at ``level`` ("member", "admin" or "operator") may open."""
    return [page for page in PAGES if allowed(page, level)]


def allowed(page: PageSpec, level: str) -> bool:
    if page.audience == "member" or level == "operator":
        return True
    return page.audience == "admin" and level == "admin"
