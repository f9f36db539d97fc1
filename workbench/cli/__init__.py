"""The ``workbench`` command line (Click): ``run``, ``ledger …``, ``auth …``, ``gateway …`` and
``prices …``, one module per group."""

from __future__ import annotations

from workbench.cli.main import cli, main

__all__ = ["cli", "main"]
