"""The command line starts in about a second: only ``workbench gateway …`` brings the gateway (and
litellm, two to three seconds of imports) with it. Every other command, the billing and webhook
ones included, must not import it, however their modules reach the services."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("litellm", "openai", "anthropic", "workbench.gateway.facade", "workbench.bootstrap")


def test_importing_the_command_line_leaves_the_gateway_out() -> None:
    probe = (
        "import sys, workbench.cli.main\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]", loaded.stdout
