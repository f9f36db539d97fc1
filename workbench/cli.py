"""What the command-line tools in ``scripts/`` share: argument parsing that fails in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from ledger.amounts import parse_credits
from ledger.errors import InvalidAmount, LedgerError
from ledger.service import Ledger
from workbench.config import Settings
from workbench.db.ledger_access import open_ledger
from workbench.gateway.errors import GatewayError


class Parser(argparse.ArgumentParser):
    """Bad arguments get one clear line (and the exit status 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than zero")
    return value


def positive_credits(text: str) -> int:
    """An amount of credits as a person types it ("5", "0.25", "1,000.5"), in micro-credits."""
    try:
        micros = parse_credits(text)
    except InvalidAmount as error:
        raise argparse.ArgumentTypeError(error.message) from None
    if micros <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than zero credits")
    return micros


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run_with_ledger(
    prog: str, database_url: str | None, work: Callable[[Ledger, Settings], int]
) -> int:
    """Open the configured ledger (or ``--database-url``), run ``work``, close it; refusals and
    bad configuration become one line on stderr and the exit status 2."""
    config = Settings()
    if database_url:
        config = config.model_copy(update={"database_url": database_url})
    try:
        book = open_ledger(config)
        try:
            return work(book, config)
        finally:
            book.close()
    except (LedgerError, GatewayError) as error:
        print(f"{prog}: error: {error.message}", file=sys.stderr)
    except (SQLAlchemyError, ValueError, OSError) as error:
        print(f"{prog}: error: {first_line(error)}", file=sys.stderr)
    return 2
