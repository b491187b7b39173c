"""`simcare import-cdrs FILE… [--rejects OUT.csv]`: import and rate usage records (30-usage.md).

Exit codes (90-interfaces.md): 0 every row of every file applied (records
imported before count as applied: they are left unchanged), 3 some rows
rejected (the others applied), 2 a file refused (not CSV, wrong header,
unreadable); the other files are still imported, and 2 wins over 3.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from simcare.usage import services
from simcare.usage.errors import CdrFileRefused

EXIT_REFUSED = 2
EXIT_SOME_REJECTED = 3


class Command(BaseCommand):
    help = (
        "Import usage records (CDR CSV, .csv or .csv.gz) and rate them against buckets and wallets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "files",
            nargs="+",
            metavar="FILE",
            help=f"UTF-8 CSV (or gzip of it) with the header {','.join(services.COLUMNS)}",
        )
        parser.add_argument(
            "--rejects",
            metavar="OUT.csv",
            help="write the rejected rows here: file,row_number,reason, then the row's fields",
        )
        parser.add_argument(
            "--batch-size", type=int, default=services.DEFAULT_BATCH_SIZE, help=argparse.SUPPRESS
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rejects_path = Path(options["rejects"]) if options["rejects"] else None
        if rejects_path is not None and not rejects_path.parent.is_dir():
            raise CommandError(f"cannot write {rejects_path}: no directory {rejects_path.parent}")
        refused = 0
        rejected = 0
        rejects_handle: IO[str] | None = None
        writer: Any = None
        try:
            if rejects_path is not None:
                try:
                    rejects_handle = rejects_path.open("w", encoding="utf-8", newline="")
                except OSError as error:
                    raise CommandError(
                        f"cannot write {rejects_path}: {error.strerror or error}"
                    ) from error
                writer = csv.writer(rejects_handle)
                writer.writerow(["file", "row_number", "reason", *services.COLUMNS])
            for name in options["files"]:
                path = Path(name)
                report, message = self._import(path, writer, options["batch_size"])
                if message:
                    refused += 1
                    self.stderr.write(f"{path}: refused: {message}")
                if report is not None and (report.rows_read or not message):
                    rejected += report.rejected
                    self.stdout.write(self._summary(path, report, show_rejects=writer is None))
        finally:
            if rejects_handle is not None:
                rejects_handle.close()
        if rejects_path is not None and rejected:
            self.stdout.write(f"{rejected} rejected rows written to {rejects_path}")
        if refused:
            raise CommandError(f"{refused} file(s) refused", returncode=EXIT_REFUSED)
        if rejected:
            raise CommandError(
                f"{rejected} rows rejected; the other rows were applied",
                returncode=EXIT_SOME_REJECTED,
            )

    def _import(
        self, path: Path, writer: Any, batch_size: int
    ) -> tuple[services.ImportReport | None, str]:
        console = Console(stderr=True)
        try:
            raw = path.open("rb")
        except OSError as error:
            return None, f"cannot read: {error.strerror or error}"
        with (
            raw,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                TimeRemainingColumn(),
                console=console,
                disable=not console.is_terminal,
                transient=False,
            ) as progress,
        ):
            task = progress.add_task(
                f"Importing {path.name}", total=path.stat().st_size or None, rows=0
            )

            def advanced(rows: int) -> None:
                progress.update(task, completed=raw.tell(), rows=rows)

            def rejected_row(row: services.RejectedRow) -> None:
                if writer is not None:
                    writer.writerow([path.name, row.row_number, row.reason, *row.raw])

            try:
                report = services.import_cdrs(
                    raw,
                    file_name=path.name,
                    batch_size=batch_size,
                    on_reject=rejected_row,
                    progress=advanced,
                )
            except CdrFileRefused as refusal:
                partial = refusal.details.get("report")
                return (partial if isinstance(partial, services.ImportReport) else None), str(
                    refusal.message
                )
        return report, ""

    def _summary(self, path: Path, report: services.ImportReport, *, show_rejects: bool) -> str:
        is_terminal = self.stdout.isatty()
        console = Console(
            file=io.StringIO(),
            width=120,
            force_terminal=is_terminal,
            color_system="standard" if is_terminal else None,
            highlight=False,
        )
        table = Table(title=f"{path.name}: usage records", show_header=False, title_justify="left")
        table.add_column(justify="left")
        table.add_column(justify="right")
        table.add_row("rows read", f"{report.rows_read:,}")
        table.add_row("applied", f"{report.applied:,}", style="green")
        table.add_row("already imported (unchanged)", f"{report.duplicates:,}")
        table.add_row("rejected", f"{report.rejected:,}", style="red" if report.rejected else None)
        table.add_row("charged to wallets", f"{report.charged_cents / 100:,.2f}")
        table.add_row("owed (debt)", f"{report.debt_cents / 100:,.2f}")
        if report.seconds:
            table.add_row("records/s", f"{report.rows_read / report.seconds:,.0f}")
        console.print(table)
        if report.first_rejects and show_rejects:
            rejects = Table("row", "reason", "as read", title_justify="left")
            if report.rejected > len(report.first_rejects):
                rejects.title = (
                    f"first {len(report.first_rejects)} of {report.rejected} rejected rows "
                    "(--rejects OUT.csv writes them all)"
                )
            for row in report.first_rejects:
                text = ",".join(row.raw)
                rejects.add_row(
                    str(row.row_number), row.reason, text if len(text) <= 60 else text[:59] + "…"
                )
            console.print(rejects)
        output: str = console.file.getvalue()  # type: ignore[attr-defined]
        return output.rstrip("\n")
