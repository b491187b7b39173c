"""`simcare restore FILE`: put a `simcare backup` file back as the embedded database.

The file is checked first (an SQLite database carrying simcare's backup mark,
intact, with simcare's tables); anything else is refused and the live
database is left untouched. Before overwriting, the current database is
itself backed up under <data dir>/backups/, so a restore can be undone. The
copy goes through SQLite's backup API into the live file, which keeps the
WAL companions consistent for processes that have it open; still, stop the
web server and the worker first (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from simcare.ops.management.commands.backup import (
    BUSY_TIMEOUT_SECONDS,
    EXIT_BAD_FILE,
    backup_problem,
    backup_sqlite,
    embedded_database,
)


def restore_sqlite(source: Path, database: Path) -> None:
    with (
        contextlib.closing(
            sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        ) as backup,
        contextlib.closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_SECONDS)) as live,
    ):
        backup.backup(live, pages=-1)
        # Only backup files carry the mark; the live database goes back to WAL mode.
        live.execute("PRAGMA application_id=0")
        live.commit()
        live.execute("PRAGMA journal_mode=WAL")


class Command(BaseCommand):
    help = (
        "Replace the embedded SQLite database with a file made by `simcare backup` "
        "(the current database is kept under <data dir>/backups/ first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a backup made by `simcare backup`")

    def handle(self, *args: Any, **options: Any) -> None:
        database = embedded_database("restore")
        source = Path(options["file"]).resolve()
        problem = backup_problem(source)
        if problem is not None:
            raise CommandError(f"Refused: {problem}", returncode=EXIT_BAD_FILE)
        if source == database:
            raise CommandError("FILE is the live database itself.", returncode=EXIT_BAD_FILE)

        connection.close()
        if database.exists():
            kept_dir = Path(settings.DATA_DIR) / "backups"
            kept_dir.mkdir(exist_ok=True)
            kept = kept_dir / f"pre-restore-{timezone.now():%Y%m%d-%H%M%S-%f}.sqlite3"
            try:
                backup_sqlite(database, kept)
            except sqlite3.DatabaseError as error:
                # A damaged database is the usual reason to restore: go on without the copy.
                self.stderr.write(f"Could not keep a copy of the current database ({error}).")
            else:
                self.stdout.write(f"The database as it was before is kept in {kept}.")
        restore_sqlite(source, database)
        connection.close()
        self.stdout.write(f"Restored {database} from {source}.")

        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write(
                "The backup is from an older version: run `simcare migrate` before starting."
            )
