"""What every subcommand shares: the database it works on, opening the ledger, and failing in one
line.

Refusals (``LedgerError``, ``GatewayError``), bad configuration and an unreachable database become
one sentence on stderr and exit status 2; bad arguments do too (see ``workbench.cli.main``). A
traceback is a bug.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from ledger.amounts import parse_credits
from ledger.errors import InvalidAmount, LedgerError
from ledger.service import Ledger
from workbench.config import Settings
from workbench.db.ledger_access import open_ledger
from workbench.gateway.errors import GatewayError

T = TypeVar("T")


@dataclass
class Target:
    """The root command's options, read by every subcommand."""

    database_url: str | None = None


target = Target()


def configured() -> Settings:
    config = Settings()
    if target.database_url:
        config = config.model_copy(update={"database_url": target.database_url})
    return config


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def fail(message: str) -> click.exceptions.Exit:
    """Say what went wrong in one line; ``raise fail(...)`` ends the command with status 2."""
    print(f"workbench: error: {message}", file=sys.stderr)
    return click.exceptions.Exit(2)


def with_ledger(work: Callable[[Ledger, Settings], T]) -> T:
    """Open the configured ledger (both schemas migrated), run ``work``, close it."""
    config = configured()
    try:
        book = open_ledger(config)
        try:
            return work(book, config)
        finally:
            book.close()
    except (LedgerError, GatewayError) as error:
        raise fail(error.message) from None
    except (SQLAlchemyError, ValueError, OSError) as error:
        raise fail(first_line(error)) from None


class WholeNumber(click.ParamType[int]):
    """A whole number as people type it (``1,500``, ``1_500``), greater than zero."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        try:
            number = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            self.fail(f"{text!r} is not a whole number", param, ctx)
        if number <= 0:
            self.fail(f"{text!r} must be greater than zero", param, ctx)
        return number


WHOLE_NUMBER = WholeNumber()


class Credits(click.ParamType[int]):
    """An amount of credits as a person types it ("5", "0.25", "1,000.5"), in micro-credits,
    more than zero."""

    name = "credits"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            micros = parse_credits(str(value))
        except InvalidAmount as error:
            self.fail(error.message, param, ctx)
        if micros <= 0:
            self.fail(f"{value!r} must be more than zero credits", param, ctx)
        return micros


CREDITS = Credits()
