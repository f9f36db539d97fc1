"""``workbench``: the one command line. ``workbench --help`` lists the subcommands; each has
``--help`` too. Bad arguments and refusals are one line on stderr with exit status 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ledger.service import Ledger
from workbench.cli import (
    auth_commands,
    billing_commands,
    gateway_commands,
    ledger_commands,
    prices_commands,
    retention_commands,
    usage_commands,
    webhook_commands,
)
from workbench.cli.common import WHOLE_NUMBER, target, with_ledger
from workbench.config import Settings
from workbench.db.migrate import start_up_lock

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    metavar="URL",
    help="SQLAlchemy URL (default: WORKBENCH_DATABASE_URL, or SQLite under data/).",
)
def cli(database_url: str | None) -> None:
    """The workbench: an AI workbench on a credit ledger."""
    target.database_url = database_url


cli.add_command(ledger_commands.group)
cli.add_command(auth_commands.group)
cli.add_command(billing_commands.group)
cli.add_command(gateway_commands.group)
cli.add_command(prices_commands.group)
cli.add_command(retention_commands.purge)
cli.add_command(usage_commands.group)
cli.add_command(webhook_commands.group)


@cli.command()
@click.option("--port", type=WHOLE_NUMBER, default=8501, show_default=True, help="Port to serve.")
@click.option(
    "--seed/--no-seed",
    default=True,
    show_default=True,
    help="Create the demo workspace when the database has none.",
)
@click.option(
    "--reload/--no-reload",
    default=False,
    show_default=True,
    help="Watch the source and rerun pages when a file is saved (for editing the app).",
)
def run(port: int, seed: bool, reload: bool) -> None:
    """Migrate the database, seed a demo workspace once, and start the app."""

    def prepare(book: Ledger, _config: Settings) -> None:
        with start_up_lock(book.engine):  # replicas starting together seed it once
            if seed and not book.workspaces():
                ledger_commands.seed_demo(book)
        ledger_commands.show_status(book)

    with_ledger(prepare)
    if target.database_url:
        os.environ["WORKBENCH_DATABASE_URL"] = target.database_url
    print(f"Starting the workbench on http://localhost:{port} (Ctrl-C stops it)", flush=True)
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    options = ["--server.headless=true", f"--server.port={port}"]
    if reload:  # .streamlit/config.toml leaves the watcher off: it slows every page run
        options += ["--server.fileWatcherType=auto", "--server.runOnSave=true"]
    os.execv(sys.executable, [*command, *options, "--browser.gatherUsageStats=false"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (``--help`` 0, a refusal or bad argument 2)."""
    try:
        result = cli.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="workbench",
            standalone_mode=False,
        )
    except click.exceptions.NoArgsIsHelpError as asked:
        # A group given no subcommand: its help is the answer, not an error.
        print(asked.format_message())
        return 0
    except click.ClickException as error:
        # Click's own form is a usage dump and a message; one line says the same.
        context = getattr(error, "ctx", None)
        path = context.command_path if context is not None else "workbench"
        print(f"{path}: error: {error.format_message()} (see {path} --help)", file=sys.stderr)
        return 2
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        print("workbench: aborted", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0
