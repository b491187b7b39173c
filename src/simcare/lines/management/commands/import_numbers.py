"""`simcare import-numbers FILE [--rejects OUT.csv]`: add phone numbers to the pool.

Exit codes (90-interfaces.md, as import-cdrs): 0 every row applied (rows already
in stock count as applied: they are left unchanged), 3 some rows rejected (the
others applied), 2 file refused (unreadable, not CSV, wrong header).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, ClassVar, TextIO

import rich.progress
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from simcare.accounts.models import User
from simcare.lines import stock
from simcare.lines.errors import StockFileRefused

EXIT_REFUSED = 2
EXIT_SOME_REJECTED = 3
REJECTS_SHOWN = 20


class StockImportCommand(BaseCommand):
    """The shared shape of import-numbers, import-sims and import-esims."""

    what: ClassVar[str] = "numbers"
    columns: ClassVar[tuple[str, ...]] = stock.NUMBER_COLUMNS

    def importer(self, source: TextIO, *, acting_user: User | None, source_name: str) -> Any:
        return stock.import_numbers(source, acting_user=acting_user, source_name=source_name)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", metavar="FILE", help=f"UTF-8 CSV with the header {','.join(self.columns)}"
        )
        parser.add_argument(
            "--rejects",
            metavar="OUT.csv",
            help="write the rejected rows here as CSV: row_number,reason, then the row's fields",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        rejects_path = Path(options["rejects"]) if options["rejects"] else None
        if rejects_path is not None and not rejects_path.parent.is_dir():
            raise CommandError(f"cannot write {rejects_path}: no directory {rejects_path.parent}")
        report = self._run_import(path)
        self.stdout.write(self._summary(path, report, show_rejects=rejects_path is None))
        if rejects_path is not None:
            self._write_rejects(rejects_path, report)
        if report.rejected:
            raise CommandError(
                f"{len(report.rejected)} of {report.rows_read} rows rejected; "
                "the other rows were applied",
                returncode=EXIT_SOME_REJECTED,
            )

    def _run_import(self, path: Path) -> stock.ImportReport:
        progress_console = Console(stderr=True)
        try:
            with rich.progress.open(
                path,
                "rt",
                encoding="utf-8-sig",
                newline="",
                description=f"Checking {path.name}",
                console=progress_console,
                disable=not progress_console.is_terminal,
            ) as source:
                report: stock.ImportReport = self.importer(
                    source, acting_user=None, source_name=path.name
                )
                return report
        except StockFileRefused as refusal:
            raise CommandError(
                f"{path}: refused, nothing imported: {refusal.message}", returncode=EXIT_REFUSED
            ) from refusal
        except OSError as error:
            raise CommandError(
                f"{path}: cannot read: {error.strerror or error}", returncode=EXIT_REFUSED
            ) from error

    def _summary(self, path: Path, report: stock.ImportReport, *, show_rejects: bool) -> str:
        is_terminal = self.stdout.isatty()
        console = Console(
            file=io.StringIO(),
            width=120,
            force_terminal=is_terminal,
            color_system="standard" if is_terminal else None,
            highlight=False,
        )
        table = Table(title=f"{path.name}: {self.what}", show_header=False, title_justify="left")
        table.add_column(justify="left")
        table.add_column(justify="right")
        table.add_row("rows read", f"{report.rows_read:,}")
        table.add_row("applied", f"{report.applied:,}", style="green")
        table.add_row("already in stock (unchanged)", f"{report.duplicates:,}")
        table.add_row(
            "rejected", f"{len(report.rejected):,}", style="red" if report.rejected else None
        )
        console.print(table)
        if report.rejected and show_rejects:
            shown = report.rejected[:REJECTS_SHOWN]
            rejects = Table("row", "reason", "as read", title_justify="left")
            if len(report.rejected) > len(shown):
                rejects.title = (
                    f"first {len(shown)} of {len(report.rejected)} rejected rows "
                    "(--rejects OUT.csv writes them all)"
                )
            for row in shown:
                rejects.add_row(str(row.row_number), row.reason, stock_preview(row.raw))
            console.print(rejects)
        output: str = console.file.getvalue()  # type: ignore[attr-defined]
        return output.rstrip("\n")

    def _write_rejects(self, rejects_path: Path, report: stock.ImportReport) -> None:
        try:
            with rejects_path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["row_number", "reason", *report.columns])
                for row in report.rejected:
                    writer.writerow([row.row_number, row.reason, *row.raw])
        except OSError as error:
            raise CommandError(
                f"the import was applied, but {rejects_path} cannot be written: "
                f"{error.strerror or error}"
            ) from error
        self.stdout.write(f"{len(report.rejected)} rejected rows written to {rejects_path}")


def stock_preview(raw: tuple[str, ...]) -> str:
    text = ",".join(raw)
    return text if len(text) <= 60 else text[:59] + "…"


class Command(StockImportCommand):
    help = "Add phone numbers to the pool from a CSV with the header msisdn."
