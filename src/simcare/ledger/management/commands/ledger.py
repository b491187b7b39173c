"""`simcare ledger verify`: every ledger invariant; exit 0 clean, 1 on any break, listing each."""

from __future__ import annotations

import io
import shutil
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simcare.ledger.queries import LedgerBreak, LedgerSize, find_breaks, ledger_size


class Command(BaseCommand):
    help = (
        "Ledger checks. `ledger verify`: each transaction sums to zero and has two or more "
        "entries, each cached balance equals the sum of its entries, no wallet or float is "
        "below its overdraft limit, each reversal negates its original. Exit 0 when clean, "
        "1 on any break, each listed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="check every ledger invariant")

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = find_breaks()
        size = ledger_size()
        if self.stdout.isatty():
            self._print_rich(breaks, size)
        else:
            self._print_plain(breaks, size)
        if breaks:
            sys.exit(1)

    def _print_plain(self, breaks: list[LedgerBreak], size: LedgerSize) -> None:
        self.stdout.write(_summary(breaks, size))
        for item in breaks:
            self.stdout.write(
                f"{item.code} {item.subject}: {item.check}: "
                f"expected {item.expected}, actual {item.actual}"
            )

    def _print_rich(self, breaks: list[LedgerBreak], size: LedgerSize) -> None:
        width = shutil.get_terminal_size().columns
        console = Console(file=io.StringIO(), force_terminal=True, width=width, highlight=False)
        if not breaks:
            console.print(f"[bold green]{_summary(breaks, size)}[/]")
        else:
            console.print(f"[bold red]{_summary(breaks, size)}[/]")
            table = Table("break", "where", "check", "expected", "actual")
            for item in breaks:
                table.add_row(
                    item.code,
                    escape(item.subject),
                    escape(item.check),
                    escape(item.expected),
                    f"[red]{escape(item.actual)}[/]",
                )
            console.print(table)
        self.stdout.write(console.file.getvalue(), ending="")  # type: ignore[attr-defined]


def _summary(breaks: list[LedgerBreak], size: LedgerSize) -> str:
    checked = f"{_count(size.transactions, 'transaction')}, {_count(size.accounts, 'account')}"
    if not breaks:
        return f"ledger verify: clean ({checked})"
    return f"ledger verify: {_count(len(breaks), 'break')} ({checked})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
