"""`simcare backup FILE`: a consistent copy of the embedded SQLite database, taken online.

SQLite's online backup API copies the database inside one read transaction:
in WAL mode the web server and the worker keep reading and writing meanwhile,
and the copy is the database as of one instant. The copy is a standalone
SQLite file (rollback journal, no -wal/-shm companions), marked with an
application id so that `simcare restore` can tell it from any other file.
PostgreSQL has its own tools (pg_dump / pg_restore, docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

# PRAGMA application_id of a simcare backup: "SIMC" in ASCII. The live database
# keeps 0, so a plain copy of it is not mistaken for a checked backup.
APPLICATION_ID = 0x53494D43
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_SECONDS = 30

EXIT_NOT_EMBEDDED = 1
EXIT_BAD_FILE = 2

POSTGRESQL_MESSAGE = (
    "simcare {command} works on the embedded SQLite database only; this installation uses "
    "{vendor}. Use pg_dump -Fc to back up and pg_restore to restore "
    "(docs/operations.md, 'Backups')."
)


def embedded_database(command: str) -> Path:
    """The SQLite file in use, or a refusal naming the right tool for PostgreSQL."""
    if connection.vendor != "sqlite":
        raise CommandError(
            POSTGRESQL_MESSAGE.format(command=command, vendor=connection.vendor),
            returncode=EXIT_NOT_EMBEDDED,
        )
    return Path(connection.settings_dict["NAME"]).resolve()


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    return sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)


def backup_sqlite(database: Path, destination: Path) -> int:
    """Copy the live database to destination atomically; returns the size in bytes."""
    descriptor, temporary_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent
    )
    os.close(descriptor)
    temporary = Path(temporary_name)
    try:
        source = _connect(database)
        target = _connect(temporary)
        try:
            # One step (pages=-1): a single read transaction, so a consistent snapshot
            # even while other processes write.
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=DELETE")
            target.execute(f"PRAGMA application_id={APPLICATION_ID}")
            target.commit()
        finally:
            target.close()
            source.close()
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return destination.stat().st_size


def _content_problem(path: Path, backup: sqlite3.Connection) -> str | None:
    (application_id,) = backup.execute("PRAGMA application_id").fetchone()
    if application_id != APPLICATION_ID:
        return (
            f"{path} is an SQLite database but not a simcare backup "
            "(make one with `simcare backup FILE`)."
        )
    (check,) = backup.execute("PRAGMA quick_check").fetchone()
    if check != "ok":
        return f"{path} is damaged: {check}"
    (applied,) = backup.execute(
        "SELECT COUNT(*) FROM django_migrations WHERE app IN ('accounts', 'lines')"
    ).fetchone()
    return None if applied else f"{path} holds no simcare tables."


def backup_problem(path: Path) -> str | None:
    """Why path is not a simcare backup that can be restored, or None if it is one."""
    if not path.is_file():
        return f"{path} does not exist or is not a file."
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return f"{path} is not an SQLite database."
    try:
        with contextlib.closing(_connect(path, read_only=True)) as backup:
            return _content_problem(path, backup)
    except sqlite3.DatabaseError as error:
        return f"{path} cannot be read as a simcare backup: {error}"


class Command(BaseCommand):
    help = (
        "Back up the embedded SQLite database to FILE while simcare runs (PostgreSQL: use pg_dump)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="where to write the backup (replaced if it exists)")

    def handle(self, *args: Any, **options: Any) -> None:
        database = embedded_database("backup")
        destination = Path(options["file"]).resolve()
        if destination == database:
            raise CommandError(
                "FILE is the live database itself; choose another path.", returncode=EXIT_BAD_FILE
            )
        if not destination.parent.is_dir():
            raise CommandError(
                f"The directory {destination.parent} does not exist.", returncode=EXIT_BAD_FILE
            )
        size = backup_sqlite(database, destination)
        self.stdout.write(f"Backed up {database} to {destination} ({size:,} bytes).")
        self.stdout.write(
            "Keep the data dir's field_key (or SIMCARE_FIELD_KEYS) with it: encrypted "
            "fields cannot be read without that key."
        )
