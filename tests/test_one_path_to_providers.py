"""Every billable call goes through the gateway: no app code outside the provider classes imports
a provider SDK or litellm, and the ledger imports neither litellm nor Streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SDKS = {"litellm", "openai", "anthropic"}
# The one class that calls providers, and the token counter (which calls nothing remote).
ALLOWED = {
    ROOT / "workbench" / "gateway" / "providers" / "litellm_provider.py",
    ROOT / "workbench" / "gateway" / "tokens.py",
    # The benchmark's baseline is a direct litellm call, by design.
    ROOT / "scripts" / "bench_gateway.py",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_provider_classes_import_provider_sdks() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(imported_roots(path) & SDKS)}"
        for folder in ("workbench", "pages", "scripts", "ledger")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in ALLOWED and imported_roots(path) & SDKS
    ]
    assert offenders == [], "call providers through workbench.gateway:\n" + "\n".join(offenders)


def test_the_ledger_imports_neither_litellm_nor_streamlit() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "ledger").rglob("*.py"))
        if imported_roots(path) & (SDKS | {"streamlit", "workbench"})
    ]
    assert offenders == []
